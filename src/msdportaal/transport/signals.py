from django.dispatch import Signal

#: Sent after a message's state changed and the change is committed. ``message``: the
#: OutboundMessage. Apps that hand messages to transport listen to this; transport
#: itself knows nothing of deliveries or consent forms.
message_state_changed = Signal()

#: Sent *inside* the transaction that makes a message *failed* for good (``message``: the
#: OutboundMessage, ``failed_at`` set). Notifications stores IB's alert e-mail in its
#: outbox here, so the alert commits with the failure and survives a mail server that is
#: away. Receivers only write rows; a receiver that raises undoes the outcome (the lease
#: runs out and the attempt is made again).
message_failed = Signal()
