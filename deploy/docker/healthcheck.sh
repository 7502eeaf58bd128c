#!/usr/bin/env bash
# Container health check without curl (the runtime image has none): GET /health/ready on the node's HTTP endpoint
# (RaftKv__Http__Listen, host:port; 0.0.0.0 is asked on 127.0.0.1) over bash's /dev/tcp. Exit 0 only on HTTP 200.
set -euo pipefail
listen=${RaftKv__Http__Listen:-127.0.0.1:9379}
host=${listen%:*}; port=${listen##*:}
[[ $host == 0.0.0.0 || $host == "*" || $host == "[::]" ]] && host=127.0.0.1
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /health/ready HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 2 status <&3
[[ $status == "HTTP/1."[01]" 200"* ]]
