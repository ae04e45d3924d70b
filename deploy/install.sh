#!/usr/bin/env bash
# Installs ai-bot as a supervised, hardened service on Debian/Ubuntu, from zero to running:
#   system user ai-bot, virtualenv in /opt/ai-bot, config in /etc/ai-bot (secrets 0600),
#   data in /var/lib/ai-bot, systemd unit + daily maintenance timer, nginx reverse proxy,
#   Let's Encrypt (with --domain) and ufw rules (when ufw is installed).
# Safe to run again: it only adds what is missing and re-renders the units and the site.
# The units and the site come from `ai-bot deploy systemd|nginx`, the same renderer users can
# run themselves, so the script and the command never disagree.
#
#   sudo deploy/install.sh [--domain bot.example.com --email you@example.com] [--port 18789]
#                          [--no-nginx] [--no-firewall] [--dry-run] [--root DIR]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --domain NAME     public host name: nginx server_name and a Let's Encrypt certificate
  --email ADDRESS   contact for Let's Encrypt (required with --domain)
  --port PORT       gateway port on 127.0.0.1 (default: the config's, else 18789)
  --no-nginx        no reverse proxy (and no certificate); server.host decides the address
  --no-firewall     leave ufw alone
  --source SPEC     what pip installs (default: the checkout this script is in)
  --python PATH     Python 3.11+ to build the virtualenv with (default: found on PATH)
  --dry-run         print every command instead of running it; files are written only
                    under --root
  --root DIR        a throwaway root to write files into (needs --dry-run), for trying it out
  -h, --help        this help
EOF
}

DOMAIN=""
EMAIL=""
PORT=18789
PORT_OPTION=()
NGINX=1
FIREWALL=1
DRY_RUN=0
ROOT=""
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(dirname "$SCRIPT_DIR")"
PYTHON=""

PREFIX=/opt/ai-bot
CONFIG_DIR=/etc/ai-bot
DATA_DIR=/var/lib/ai-bot
SERVICE_USER=ai-bot
ACME_ROOT=/var/www/letsencrypt
VENV="$PREFIX/venv"
DONE=()
INITIAL_ADMIN=""

die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --domain) DOMAIN="${2:?--domain needs a value}"; shift 2 ;;
    --email) EMAIL="${2:?--email needs a value}"; shift 2 ;;
    --port) PORT="${2:?--port needs a value}"; PORT_OPTION=(--port "$PORT"); shift 2 ;;
    --no-nginx) NGINX=0; shift ;;
    --no-firewall) FIREWALL=0; shift ;;
    --source) SOURCE="${2:?--source needs a value}"; shift 2 ;;
    --python) PYTHON="${2:?--python needs a value}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --root|--prefix) ROOT="${2:?$1 needs a value}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
  die "--port must be a number between 1 and 65535 (got $PORT)"
fi
if [ -n "$DOMAIN" ]; then
  [[ "$DOMAIN" =~ ^[A-Za-z0-9.-]+$ ]] || die "--domain must be a host name (got $DOMAIN)"
  [ -n "$EMAIL" ] || die "--domain needs --email (Let's Encrypt expiry notices go there)"
  [ "$NGINX" = 1 ] || die "--domain needs nginx (drop --no-nginx)"
fi
# Behind nginx the gateway listens on loopback only; without it, the config decides.
HOST_OPTION=()
PROXY_OPTION=()
if [ "$NGINX" = 1 ]; then
  HOST_OPTION=(--host 127.0.0.1)
  # nginx on this box is the one proxy whose X-Forwarded-For the gateway may believe.
  PROXY_OPTION=(--trusted-proxy 127.0.0.1 --trusted-proxy ::1)
fi
if [ -n "$ROOT" ]; then
  [ "$DRY_RUN" = 1 ] || die "--root is for trying the installer out: use it with --dry-run"
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
fi
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0 …), or try it with --dry-run"
fi

log() { printf '==> %s\n' "$*"; }

# Every command that changes the system goes through `run`: printed in dry-run mode, else run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# Files are written under $ROOT; a dry run without --root writes nothing at all.
writes_files() { [ "$DRY_RUN" = 0 ] || [ -n "$ROOT" ]; }

# make_dir MODE OWNER PATH
make_dir() {
  if writes_files; then
    mkdir -p "$ROOT$3"
    chmod "$1" "$ROOT$3"
  else
    printf '+ mkdir -p -m %s %q\n' "$1" "$3"
  fi
  run chown "$2" "$ROOT$3"
}

# write_new MODE OWNER PATH < content: creates the file only if it does not exist yet.
write_new() {
  local target="$ROOT$3"
  if [ -e "$target" ]; then
    cat >/dev/null
    return 1
  fi
  if writes_files; then
    (umask 077 && cat >"$target")
    chmod "$1" "$target"
  else
    cat >/dev/null
    printf '+ write %q (mode %s)\n' "$3" "$1"
  fi
  run chown "$2" "$target"
}

find_python() {
  if [ -n "$PYTHON" ]; then echo "$PYTHON"; return; fi
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
       && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
}

# -- packages ------------------------------------------------------------------------------
install_packages() {
  local wanted=()
  PYTHON="$(find_python)"
  if [ -z "$PYTHON" ]; then
    wanted+=(python3.11 python3.11-venv)
    PYTHON=/usr/bin/python3.11
  elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    wanted+=("python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
  fi
  if [ "$NGINX" = 1 ] && ! command -v nginx >/dev/null 2>&1; then wanted+=(nginx); fi
  if [ -n "$DOMAIN" ] && ! command -v certbot >/dev/null 2>&1; then wanted+=(certbot); fi
  if [ ${#wanted[@]} -gt 0 ]; then
    log "installing packages: ${wanted[*]}"
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}"
    DONE+=("installed ${wanted[*]}")
  fi
}

# -- user, directories, virtualenv -------------------------------------------------------
create_user() {
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    return
  fi
  log "creating system user $SERVICE_USER"
  run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
    --shell /usr/sbin/nologin "$SERVICE_USER"
  DONE+=("created system user $SERVICE_USER")
}

create_dirs() {
  make_dir 0755 root:root "$PREFIX"
  make_dir 0750 "root:$SERVICE_USER" "$CONFIG_DIR"
  make_dir 0750 "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
  DONE+=("directories $PREFIX, $CONFIG_DIR (0750), $DATA_DIR (0750, owned by $SERVICE_USER)")
}

install_venv() {
  log "installing ai-bot into $VENV"
  if [ ! -x "$ROOT$VENV/bin/python" ]; then
    run "$PYTHON" -m venv "$ROOT$VENV"
  fi
  run "$ROOT$VENV/bin/python" -m pip install --quiet --upgrade pip
  run "$ROOT$VENV/bin/python" -m pip install --quiet --upgrade "$SOURCE"
  DONE+=("ai-bot installed in $VENV from $SOURCE")
}

write_secrets() {
  # The gateway's own API key; `ai-bot init` keeps it and adds the model key beside it.
  local key
  key="$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 43)"
  if write_new 0600 "$SERVICE_USER:$SERVICE_USER" "$CONFIG_DIR/.env" <<EOF
# Secrets for ai-bot (mode 0600). \`ai-bot init\` adds the model provider's key here.
AIBOT_API_KEY=$key
EOF
  then
    DONE+=("$CONFIG_DIR/.env (0600) with a new AIBOT_API_KEY")
  fi
}

# -- rendered artefacts --------------------------------------------------------------------
# The installed ai-bot renders them; a dry run (nothing installed) uses the one on PATH, else
# the checkout's own (.venv, which `make run` makes).
ai_bot_path() {
  if [ -x "$ROOT$VENV/bin/ai-bot" ]; then
    echo "$ROOT$VENV/bin/ai-bot"
  elif [ "$DRY_RUN" = 1 ] && command -v ai-bot >/dev/null 2>&1; then
    command -v ai-bot
  elif [ "$DRY_RUN" = 1 ] && [ -x "$SOURCE/.venv/bin/ai-bot" ]; then
    echo "$SOURCE/.venv/bin/ai-bot"
  elif [ "$DRY_RUN" = 1 ]; then
    die "a dry run renders the files with an ai-bot it can find: run \`make run\` (or \`make test\`) in $SOURCE first, or put ai-bot on PATH"
  else
    die "ai-bot is not installed in $VENV"
  fi
}

ai_bot() {
  local command
  command="$(ai_bot_path)" || exit 2
  "$command" "$@"
}

# The first console admin, with a random one-time password in a 0600 file only root reads; the
# console makes it choose its own at the first sign-in. An existing account is never touched.
# It runs as the service user, in the data directory, so the store it creates is the service's.
create_initial_admin() {
  local file="$CONFIG_DIR/initial-admin.txt" staged="$DATA_DIR/initial-admin.txt"
  local config=() as_service=() command
  if [ -f "$ROOT$CONFIG_DIR/config.yaml" ]; then config=(--config "$ROOT$CONFIG_DIR/config.yaml"); fi
  log "creating the first console admin (unless an account exists)"
  if ! writes_files; then
    printf '+ (cd %q && runuser -u %q -- ai-bot admin create-initial --file %q)\n' \
      "$DATA_DIR" "$SERVICE_USER" "$staged"
    printf '+ mv %q %q (mode 0600)\n' "$staged" "$file"
    return
  fi
  if [ "$DRY_RUN" = 0 ]; then as_service=(runuser -u "$SERVICE_USER" --); fi
  command="$(ai_bot_path)" || exit 2
  rm -f "$ROOT$staged"
  (cd "$ROOT$DATA_DIR" && "${as_service[@]}" "$command" admin create-initial \
    --file "$ROOT$staged" "${config[@]}") || die "could not create the first console admin"
  if [ ! -f "$ROOT$staged" ]; then
    DONE+=("console accounts already exist: none was created, no password was reset")
    return
  fi
  mv -f "$ROOT$staged" "$ROOT$file"
  chmod 0600 "$ROOT$file"
  run chown root:root "$ROOT$file"
  INITIAL_ADMIN="$file"
  DONE+=("first console admin 'admin', its one-time password in $file (0600, root only)")
}

render() {
  local kind="$1" dir="$2"
  shift 2
  local config=()
  if [ -f "$ROOT$CONFIG_DIR/config.yaml" ]; then config=(--config "$ROOT$CONFIG_DIR/config.yaml"); fi
  if writes_files; then
    mkdir -p "$ROOT$dir"
    (cd / && ai_bot deploy "$kind" "${config[@]}" --out "$ROOT$dir" "$@" >/dev/null)
  else
    printf '+ ai-bot deploy %s --out %q' "$kind" "$dir"; printf ' %q' "$@"; printf '\n'
  fi
}

install_units() {
  log "writing the systemd units"
  render systemd /etc/systemd/system "${HOST_OPTION[@]}" "${PROXY_OPTION[@]}" "${PORT_OPTION[@]}" --prefix "$PREFIX" \
    --config-dir "$CONFIG_DIR" --data-dir "$DATA_DIR" --user "$SERVICE_USER"
  run systemctl daemon-reload
  run systemctl enable ai-bot.service ai-bot-maintenance.timer
  run systemctl start ai-bot-maintenance.timer
  DONE+=("systemd: ai-bot.service (hardened, restarts on failure) + daily ai-bot-maintenance.timer")
}

install_site() {
  local site=/etc/nginx/sites-available/ai-bot.conf
  local options=("${HOST_OPTION[@]}" "${PORT_OPTION[@]}")
  if [ -n "$DOMAIN" ]; then options+=(--domain "$DOMAIN"); fi
  log "writing the nginx site"
  make_dir 0755 root:root "$ACME_ROOT"
  render nginx /etc/nginx/sites-available "${options[@]}"
  run ln -sfn "$site" "$ROOT/etc/nginx/sites-enabled/ai-bot.conf"
  # Debian's stock site answers every unknown host name first; this server serves ai-bot.
  if [ -L "$ROOT/etc/nginx/sites-enabled/default" ]; then
    run rm -f "$ROOT/etc/nginx/sites-enabled/default"
    DONE+=("disabled nginx's stock default site")
  fi
  run nginx -t
  run systemctl reload-or-restart nginx
  DONE+=("nginx: $site proxies http://${DOMAIN:-this-server}/ (WebSocket /ws) to 127.0.0.1:$PORT")
  if [ -z "$DOMAIN" ]; then
    return
  fi
  log "getting a Let's Encrypt certificate for $DOMAIN"
  run certbot certonly --webroot --webroot-path "$ACME_ROOT" --domain "$DOMAIN" \
    --email "$EMAIL" --agree-tos --non-interactive --keep-until-expiring \
    --deploy-hook "systemctl reload nginx"
  render nginx /etc/nginx/sites-available "${options[@]}" --tls
  run nginx -t
  run systemctl reload nginx
  DONE+=("TLS: https://$DOMAIN (Let's Encrypt, renewed by certbot's timer), http redirects")
}

configure_firewall() {
  if ! command -v ufw >/dev/null 2>&1; then
    return
  fi
  local ports=(22)
  if [ "$NGINX" = 1 ]; then ports+=(80 443); fi
  log "firewall: allowing incoming TCP on ${ports[*]} only"
  run ufw default deny incoming
  run ufw default allow outgoing
  local port
  for port in "${ports[@]}"; do run ufw allow "$port/tcp"; done
  run ufw --force enable
  DONE+=("ufw: incoming TCP only on ${ports[*]}")
}

start_service() {
  if [ -f "$ROOT$CONFIG_DIR/config.yaml" ]; then
    run systemctl restart ai-bot.service
    DONE+=("restarted ai-bot.service with $CONFIG_DIR/config.yaml")
  fi
}

summary() {
  echo
  echo "ai-bot is installed$([ "$DRY_RUN" = 1 ] && echo ' (dry run: nothing was changed)'):"
  local line
  for line in "${DONE[@]}"; do echo "  - $line"; done
  echo
  if [ -n "$INITIAL_ADMIN" ]; then
    echo "Console sign-in: user admin, password in $INITIAL_ADMIN (sudo cat $INITIAL_ADMIN);"
    echo "the console asks for a new password at once. Delete the file afterwards."
    echo
  fi
  if [ -f "$ROOT$CONFIG_DIR/config.yaml" ]; then
    echo "Next: check it with  sudo systemctl status ai-bot  and  curl -s http://127.0.0.1:$PORT/readyz"
    return
  fi
  echo "Next step: choose the model and its key, then start the service:"
  echo "  sudo $VENV/bin/ai-bot init --path $CONFIG_DIR/config.yaml --port $PORT"
  echo "  sudo systemctl start ai-bot"
  if [ -n "$DOMAIN" ]; then
    echo "  (for webhook channels also set server.public_url: https://$DOMAIN in config.yaml)"
  fi
}

main() {
  install_packages
  create_user
  create_dirs
  install_venv
  write_secrets
  create_initial_admin
  install_units
  if [ "$NGINX" = 1 ]; then install_site; fi
  if [ "$FIREWALL" = 1 ]; then configure_firewall; fi
  start_service
  summary
}

main
