"""Console accounts: who may sign in to the staff console, with which role.

``tables`` holds the account and its role, ``roles`` what each role may do, ``passwords``
how a password is kept, ``operations`` the changes (each audited in the caller's
transaction) and ``queries`` the reads the console and the CLI share.
"""
