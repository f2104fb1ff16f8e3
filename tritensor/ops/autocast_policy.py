"""PyTorch's autocast op policy, per device type, under tritensor's op names.

The lists follow PyTorch's (aten/src/ATen/autocast_mode.{h,cpp} and the "Autocast Op Reference"): one table
per device type because they differ (on cpu softmax keeps its input dtype while mse_loss runs in float32; on
cuda softmax runs in float32). A name is an op of `tt.*`, a Tensor method or an `nn.functional` function;
each is wrapped once where it is bound (ops/api.py, nn/functional), so no op applies the policy by hand.

LOWER: floating-point operands (not float64) cast to the region's dtype (float16 / bfloat16).
FP32: floating-point operands cast to float32 (PyTorch's fp32, fp32_set_opt_dtype and fp32_append_dtype
    policies: for sum, softmax, norm, ... the output is float32 either way).
PROMOTE: floating-point operands cast to the widest floating dtype among them.
BANNED: raises (binary_cross_entropy on cuda: its input is usually a float16 sigmoid).
"""

from __future__ import annotations

LOWER, FP32, PROMOTE, BANNED = "lower", "fp32", "promote", "banned"

# Matmuls, convolutions, attention and the recurrent layers: what tensor cores serve.
_MATMUL_LIKE = ("matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "addbmm", "linear",
                "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu",
                "scaled_dot_product_attention", "_rnn_layer")

# Ops the cuda list runs in float32 (reductions, exponentials, norms, losses).
_CUDA_FP32 = (
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
    "sinh", "tan", "pow", "__pow__", "__rpow__", "__rtruediv__", "__rdiv__", "softplus", "layer_norm",
    "group_norm", "norm", "frobenius_norm", "nuclear_norm", "cosine_similarity", "normalize", "poisson_nll_loss",
    "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss", "kl_div", "l1_loss", "smooth_l1_loss",
    "huber_loss", "mse_loss", "margin_ranking_loss", "multilabel_margin_loss", "soft_margin_loss",
    "triplet_margin_loss", "multi_margin_loss", "binary_cross_entropy_with_logits", "dist", "pdist", "cdist",
    "renorm", "logsumexp", "cross_entropy", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    # fp32_set_opt_dtype / fp32_append_dtype: run with dtype=float32
    "prod", "softmax", "log_softmax", "softmin", "cumprod", "cumsum", "sum", "vector_norm", "matrix_norm",
)

# Ops the cpu list runs in float32.
_CPU_FP32 = (
    "avg_pool3d", "binary_cross_entropy", "grid_sample", "grid_sampler", "polar", "prod", "quantile",
    "nanquantile", "stft", "cdist", "trace", "max_pool3d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d",
    "adaptive_max_pool3d", "fractional_max_pool2d", "fractional_max_pool3d", "mse_loss", "cosine_embedding_loss",
    "nll_loss", "hinge_embedding_loss", "poisson_nll_loss", "smooth_l1_loss", "cross_entropy", "l1_loss",
    "huber_loss", "margin_ranking_loss", "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
    "ctc_loss", "kl_div", "multilabel_margin_loss", "binary_cross_entropy_with_logits", "inverse", "pinverse",
    "cholesky", "svd", "qr",
)

POLICIES: dict[str, dict[str, str]] = {
    "cuda": {
        **dict.fromkeys(_MATMUL_LIKE, LOWER),
        **dict.fromkeys(("addmv", "addr", "mv", "einsum", "chain_matmul", "multi_dot", "vecdot", "lstm_cell",
                         "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"), LOWER),
        **dict.fromkeys(_CUDA_FP32, FP32),
        **dict.fromkeys(("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sample", "grid_sampler",
                         "index_put", "tensordot", "scatter_add"), PROMOTE),
        "binary_cross_entropy": BANNED,
    },
    "cpu": {
        **dict.fromkeys(_MATMUL_LIKE, LOWER),
        "vecdot": LOWER,
        **dict.fromkeys(_CPU_FP32, FP32),
        **dict.fromkeys(("cat", "concat", "concatenate", "stack", "index_copy"), PROMOTE),
    },
}

BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")

NAMES = frozenset(name for table in POLICIES.values() for name in table)
