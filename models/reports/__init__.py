"""Reports pushed to console accounts on WeChat: ``week`` says which week a weekly report
covers and when it is due; ``weekly`` reads its figures from the impact dashboard's
queries (models/impact/), says them in both languages and queues them, once per account
and week."""
