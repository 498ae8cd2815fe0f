"""What starts runs from outside a Python process: signed webhooks (``webhooks``)."""
