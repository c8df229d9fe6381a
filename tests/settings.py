"""Credentials the test suite's WeChat account uses (never real ones)."""

TEST_TOKEN = "test-token"
TEST_APP_ID = "wxtestapp0000001"
TEST_APP_SECRET = "test-secret"
TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
