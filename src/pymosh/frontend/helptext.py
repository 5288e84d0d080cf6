"""``--help`` of pymosh-server and pymosh-client: every option, variable and escape key in
brief (the man pages say more). The wrapper's comes from argparse."""

SERVER_HELP = """\
Options (after "new"):
  -s              bind to the address ssh came in on (SSH_CONNECTION)
  -i IP           bind to IP
  -p PORT[:PORT2] UDP port, or the first free one of a range (default 60001-60999)
  -c COLORS       the client's colour count (256: xterm-256color; 16777216: 24-bit colour,
                  COLORTERM=truecolor for the shell)
  -l NAME=VALUE   the client's locale variable (used when this host's locale is not UTF-8;
                  a locale not installed here is replaced by an installed UTF-8 one)
  -v              verbose: stay attached and log
  -A              agent forwarding: a socket for the shell's SSH_AUTH_SOCK (client -A)
  -R [BIND:]PORT:HOST:HOSTPORT  listen on PORT, carry connections to the client's -R
  --scrollback=N  grant a pymosh client at most N lines of history (default: what it
                  asks, at most 1000000; 0: none)
  -- COMMAND...   run COMMAND instead of the login shell
Sessions: pymosh-server list [--json] | kill ID|all-detached | resume [ID]
Environment: MOSH_SERVER_NETWORK_TMOUT, MOSH_SERVER_SIGNAL_TMOUT (seconds), SHELL,
  LANG/LC_*, PYMOSH_STATE_DIR, PYMOSH_NO_EXTENSIONS. See pymosh-server(1).
"""

CLIENT_HELP = """\
Options: -c (print the terminal's colour count), -# ARGS (ignored), --version,
  -A (answer the server's agent socket with the local SSH_AUTH_SOCK),
  -L [BIND:]PORT:HOST:HOSTPORT (local port -> HOST:HOSTPORT from the server),
  -R [BIND:]PORT:HOST:HOSTPORT (accept the server's -R, connect to HOST:HOSTPORT here).
Environment: MOSH_KEY (the session key, required), MOSH_ESCAPE_KEY,
  MOSH_PREDICTION_DISPLAY (adaptive|always|never|experimental), MOSH_PREDICTION_OVERWRITE,
  MOSH_TITLE_NOPREFIX, MOSH_NO_TERM_INIT, TERM, LANG/LC_* (must be UTF-8),
  PYMOSH_SCROLLBACK (lines of history in the terminal's scrollback with a pymosh server,
  default 10000, 0: off), PYMOSH_NO_EXTENSIONS.
Escape keys: Ctrl-^ then . quits, Ctrl-Z suspends, s toggles the connection statistics,
  ^ sends Ctrl-^. See pymosh-client(1).
"""
