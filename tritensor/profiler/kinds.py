"""The kinds of event (a Chrome trace's "cat"), as PyTorch's traces name them."""

CPU_OP = "cpu_op"  # an op call or an autograd node
USER_ANNOTATION = "user_annotation"  # a record_function range (ProfilerStep#n included)
KERNEL = "kernel"  # a kernel launch: device time
