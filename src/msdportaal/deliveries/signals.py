"""What deliveries tells the apps above it (DESIGN.md §6: they subscribe, we never import them).

``batch_confirmed`` is sent *inside* the confirm's transaction, after the deliveries, their
outbound messages and the audit entries are written. A receiver's rows therefore commit or
roll back together with the batch: that is how the receipt e-mail is made durable (the
notifications app writes it to its ledger here, and sends it after the commit). A receiver
must only write rows; anything slow or external (SMTP, the broker) belongs in
``transaction.on_commit``. A receiver that raises undoes the confirm, on purpose: a
confirmed batch without its receipt is exactly what this signal exists to prevent.
"""

from django.dispatch import Signal

#: sender=UploadBatch, batch=<the confirmed UploadBatch>
batch_confirmed = Signal()
