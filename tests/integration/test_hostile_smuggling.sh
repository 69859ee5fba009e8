#!/usr/bin/env bash
# Request smuggling shapes (hostile_requests.py, group "pending" in its table): header names with
# whitespace before the colon or non-token bytes, two different Content-Length values, a
# Transfer-Encoding other than chunked or next to a Content-Length: each is refused with 400 and
# the connection closed (RFC 9112 5.1, 6.1, 6.3), and nothing reaches the origin.
HOSTILE_GROUP=pending exec bash "$(dirname "$0")/test_hostile_requests.sh"
