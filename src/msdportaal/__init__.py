"""MSD Portaal: the delivery portal for the Gemeentelijke Monitor Sociaal Domein."""

from .celery import app as celery_app

__all__ = ["celery_app"]
