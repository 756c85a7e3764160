"""msd-aanlever: deliver Monitor Sociaal Domein files to MSD Portaal from the command line.

Standalone on purpose: it needs only ``requests``, so a gemeente or supplier can run it on
any machine that holds its services certificate. See docs/api.md.
"""

__version__ = "1.0.0"
