from django.dispatch import Signal

#: Sent after a message's state changed and the change is committed. ``message``: the
#: OutboundMessage. Apps that hand messages to transport listen to this; transport
#: itself knows nothing of deliveries or consent forms.
message_state_changed = Signal()
