"""Celery application. Tasks are only triggers: the database holds the truth (DESIGN.md §6)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msdportaal.conf.settings")

app = Celery("msdportaal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
