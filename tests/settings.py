"""Credentials the test suite uses for its WeChat account and console (never real ones)."""

TEST_TOKEN = "test-token"
TEST_APP_ID = "wxtestapp0000001"
TEST_APP_SECRET = "test-secret"
TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# Signs the console's session cookies in tests (console.secret_key wants 32 characters).
TEST_CONSOLE_SECRET = "test-console-secret-0123456789abcdef"
