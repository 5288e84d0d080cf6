"""The three programs (the `pymosh` wrapper, the server, the client) and their parts."""

# Mosh's prediction display modes ($MOSH_PREDICTION_DISPLAY, --predict); the first is the
# default. Here, not in the overlay, so the wrapper checks them without loading it.
PREDICTION_MODES = ("adaptive", "always", "never", "experimental")
