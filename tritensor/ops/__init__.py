"""Op registrations: each module wraps one kernels family as autograd Functions and the public API."""
