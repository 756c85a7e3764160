from django.dispatch import Signal

#: Sent when a user fills in their profile for the first time (``user``, and the
#: ``municipalities`` the session's login is for). Notifications listens, so the person
#: who uses the portal also hears from it.
profile_completed = Signal()
