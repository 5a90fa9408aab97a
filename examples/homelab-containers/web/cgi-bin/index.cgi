#!/bin/sh
# The lab's front page, as a CGI script for busybox httpd (which hands it the container's
# environment): fetches the api's notes with wget and renders them as HTML.
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
notes="$(wget -q -O - "$API_URL/notes.json" 2>/dev/null)"
if [ -z "$notes" ]; then
  printf 'Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nthe api at %s did not answer\n' "$API_URL"
  exit 0
fi
title="$(printf '%s' "${TITLE:-Containers}" | esc)"
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
printf '<!doctype html>\n<html><head><title>%s</title></head><body>\n<h1>%s</h1>\n<ul>\n' "$title" "$title"
# One note per line in notes.json: a line that is just a quoted string is a note.
printf '%s\n' "$notes" | sed -n 's/^ *"\([^"]*\)",\{0,1\} *$/\1/p' | esc | sed 's|.*|  <li>&</li>|'
printf '</ul>\n<p>served by %s instance %s; notes from %s</p>\n</body></html>\n' "$GROUNDWORK_SERVICE" "$GROUNDWORK_INSTANCE" "$API_URL"
