"""RINIS/CBS simulator for MSD Portaal development and tests.

A separate, deliberately independent program: it plays the other party in the
StUF-GGk exchange (RINIS on behalf of CBS) so the portal can be developed and tested
against something that behaves like the real chain and catches the portal's mistakes.
It therefore uses only the standard library, lxml, cryptography and requests, and never
imports anything from ``msdportaal``.

Run it with ``PYTHONPATH=src python -m rinis_simulator serve``; see ``__main__`` for the
options and ``server`` for the SOAP and control interfaces.
"""

__version__ = "0.1.0"
