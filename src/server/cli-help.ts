/** @module Help texts of `pairing-server`: the overview (every command and option) and one short page per subcommand. */
import { GATE_DEFAULT_MINUTES } from '../protocol/types.js';

export type ServerCommand =
  | 'serve' | 'fingerprint' | 'audit verify' | 'backup'
  | 'users add' | 'users list' | 'users disable' | 'users enable' | 'users reset-2fa' | 'users passwd' | 'users role'
  | 'identity prepare' | 'identity promote' | 'identity status';

const SERVER_OPTIONS = `  --data-dir DIR        store, generated TLS key and certificate    [PAIRING_DATA_DIR]  default ./data
  --host ADDR           address the services bind to                [PAIRING_HOST]      default 0.0.0.0
  --public-host NAME    host name terminals use to reach master     [PAIRING_PUBLIC_HOST]
                        (default: --host, or 127.0.0.1 when that is 0.0.0.0 or ::, which
                        only works on this machine: the server warns at start-up)
  --gate-port N         pairing service for new terminals           [PAIRING_GATE_PORT]   default 7741
  --master-port N       service for paired terminals                [PAIRING_MASTER_PORT] default 7743
  --admin-port N        operators' web page and WebSocket channel   [PAIRING_ADMIN_PORT]  default 7777
  --metrics-port N      Prometheus scrape endpoint, GET /metrics over plain HTTP: counts
                        and states only, no session  [PAIRING_METRICS_PORT]  default: off
  --metrics-host ADDR   address the metrics endpoint binds to (a private interface,
                        never the internet)          [PAIRING_METRICS_HOST]  default 127.0.0.1
  --server-key FILE     licence key; with --server-cert: servers sharing a licence share one SFP
  --server-cert FILE    licence certificate (PEM)
  --clock-skew SEC      accepted terminal clock difference, ≤ 1200   default 300
  --pairing-ttl SEC     how long a pairing request stays pending, ≤ 604800 (7 days)   default 86400
  --pairing-history-days N
                        pairing requests made longer ago are forgotten once over,
                        with certificates only they kept; at least two pairing
                        TTLs; 0: kept for ever (the audit log keeps every decision)
                        [PAIRING_HISTORY_DAYS]                            default 90
  --cash-event-days N   cash events received longer ago are forgotten (a fleet's
                        events grow the store by about 400 bytes each; export
                        them first: cas cash-events export); 0: kept for ever
                        [PAIRING_CASH_EVENT_DAYS]                          default 0
  --body-deadline SEC   a terminal request's body must arrive within SEC of its
                        head (408 request_timeout beyond)   [PAIRING_BODY_DEADLINE]  default 10
  --actor-idle SEC      an idle terminal's actor leaves memory after   default 60
  --status-log SEC      log every thread's counts (server.status) every SEC, 0: never   default 60
  --refusal-log-window SEC
                        refused terminal requests: the first 100 of a kind per thread
                        and window get a line each, the rest one summary line at the
                        window's end; 0: a line for every refusal     default 10
  --min-free-disk MB    below this much free space on the data dir's disk, cash
                        events are refused (503 storage_unavailable) while
                        operators' writes still fit; 0: no check     default 64
  --admin-login-deadline SEC
                        an admin connection without a session is closed after  default 300
  --admin-conns-per-address N
                        admin connections per address (429 beyond)             default 50
  --admin-conns-waiting N
                        admin connections without a session in all; beyond,
                        the one waiting longest is closed                      default 1000
  --threads N           front-end threads for gate and master            default: CPU cores
                        (a terminal's actor runs on the thread its connection reached)
  --gate-rate N         gate requests per second per address (429 beyond)   default 5
  --gate-global-rate N  gate requests per second in all                     default 200
  --master-rate N       master calls per second per address                 default 2000
  --log-level LEVEL     trace|debug|info|warn|error                 default info
  --log-pretty          human-readable logs (default when stdout is a terminal)
  -h, --help            this help`;

const ENV_RULE = `Each option but --help and --new-identity has its environment variable: PAIRING_ and
its name in capitals, dashes as underscores (--clock-skew: PAIRING_CLOCK_SKEW;
--log-pretty: PAIRING_LOG_PRETTY=1), but PAIRING_TTL and PAIRING_HISTORY_DAYS for the
two --pairing- ones. A flag wins over its variable, and an error names the variable a
value came from.`;

const DATA_DIR = `  --data-dir DIR      the server's data dir (it must exist: start the server once)
                      [PAIRING_DATA_DIR]  default ./data`;

export const HELP = `pairing-server — the trust server for fleets of cash and crypto terminals

Usage:
  pairing-server [serve] [options]          start the gate, master and admin services
  pairing-server fingerprint [--colons]     print the Server Certificate Fingerprint (SFP)
  pairing-server users add NAME --password-stdin [--no-2fa] [--role viewer] [--json]
                                            create an operator, or a read-only viewer
                                            (works while the server runs)
  pairing-server users list [--json]        list operators
  pairing-server users disable NAME [--force] [--json]
                                            lock an operator out and end their sessions
  pairing-server users enable NAME [--json] let a disabled operator log in again
  pairing-server users reset-2fa NAME [--no-2fa] [--json]
                                            a new TOTP secret (or none); ends their sessions
  pairing-server users passwd NAME --password-stdin [--json]
                                            a new password; ends their sessions
  pairing-server users role NAME operator|viewer [--force] [--json]
                                            what the account may do; ends their sessions
  pairing-server audit verify [--head SEQ:HASH] [--json]
                                            check the audit log's hash chain; names the first broken entry
  pairing-server backup --out DIR [--json]  a consistent copy of the data dir, also while the server runs
                                            (without secrets.key: keep that apart)
  pairing-server identity prepare [--server-key FILE --server-cert FILE] [--force] [--json]
                                            the next server certificate, announced to terminals
                                            from the next start (server stopped)
  pairing-server identity promote [--json]  the next certificate becomes the current one (server stopped)
  pairing-server identity status [--json]   current, next and previous SFP
  pairing-server COMMAND --help             one command's usage, with an example

Options (every command; environment variable in brackets, an empty one counts as unset):
${SERVER_OPTIONS}
  --new-identity        serve only: make a new TLS key and certificate, a new SFP every
                        terminal refuses until told (pairing-server serve --help)

${ENV_RULE}

The gate is closed on a new install: an operator opens it for a time window
(cas gate open --minutes ${GATE_DEFAULT_MINUTES}) while terminals pair. Create the first operator with
  echo 'a long passphrase' | pairing-server users add alice --password-stdin
and enrol the printed otpauth URI in an authenticator app.`;

export const COMMAND_HELP: Record<ServerCommand, string> = {
  serve: `Usage: pairing-server serve [options]        (serve is the default command)

Starts the gate, master and admin services on the data dir. The first start creates
the data dir: the LMDB store, secrets.key, and a TLS key and certificate (unless
--server-key/--server-cert are given). One server per data dir: a second serve on a
data dir in use is refused with the running server's pid.

A data dir whose tls/ is gone while its store holds terminals' certificates does not
start: a new certificate is a new SFP, and every terminal that pinned the old one
refuses it. Restore tls/ from the backup, or start once with --new-identity to make a
new one on purpose. Each terminal then has to be told the new SFP: once the person at
it has checked the SFP with the operator, terminal pair --expect-sfp NEW_SFP moves its
pin and its pairing stays (the store still trusts its key); or factory-reset and pair.

Options (environment variable in brackets, an empty one counts as unset):
${SERVER_OPTIONS}
  --new-identity        with the above: make a new TLS key and certificate (new SFP)

${ENV_RULE}

Example:
  pairing-server serve --data-dir /var/lib/pairing --public-host pairing.example.com`,

  fingerprint: `Usage: pairing-server fingerprint [--data-dir DIR] [--colons]
       pairing-server fingerprint --server-key FILE --server-cert FILE [--colons]

Prints the Server Certificate Fingerprint (SFP) that terminals and operators pin: the
SHA-256 of the data dir's certificate (DIR/tls/server.crt), or of the licence
certificate, which needs no data dir. Reads only; works while the server runs.

Options:
${DATA_DIR}
  --server-key FILE   with --server-cert: the licence pair several servers share
  --server-cert FILE
  --colons            AB:CD:… instead of lowercase hex

Example:
  export CAS_FINGERPRINT=$(pairing-server fingerprint --data-dir /var/lib/pairing)`,

  'users add': `Usage: pairing-server users add NAME --password-stdin [--no-2fa] [--role ROLE] [--json] [--data-dir DIR]

Creates an operator in the data dir's store; works while the server runs, and the
operators logged in are told at once. NAME: 1-32 characters of a-z 0-9 . _ -, starting
with a letter or digit. The password (12 to 1024 characters) is the first line of
standard input, never an argument. The operator gets 2FA: enrol the otpauth:// URI it
prints (once) in an authenticator app. Audited, refusals included.

Options:
  --password-stdin    read the password from standard input (required; typed at a
                      terminal: after a prompt, not shown, and asked twice)
  --no-2fa            no TOTP yet: the operator can look but not approve until they
                      enrol it themselves with the enrolment code this prints once
                      (cas totp enroll --code CODE; a week, 5 tries): hand it over
                      apart from the password. Not a read-only role: that is --role viewer
  --role ROLE         operator (default): everything its 2FA allows; viewer: a
                      read-only account (support staff, auditors) that sees the
                      terminals, pairing requests, audit log and server status and
                      is refused (forbidden) every op that changes something
  --json              {user, role, totpSecret, otpauthUri, enrolmentCode,
                      enrolmentCodeExpiresAt} as JSON
${DATA_DIR}

Examples:
  echo 'a long operator passphrase' | pairing-server users add alice --password-stdin --data-dir /var/lib/pairing
  echo 'an auditor passphrase here' | pairing-server users add audrey --password-stdin --role viewer --data-dir /var/lib/pairing`,

  backup: `Usage: pairing-server backup --out DIR [--json] [--data-dir DIR]

Copies the data dir into DIR, a new or empty folder: the store as one consistent
snapshot (taken in a single read transaction, compacted), the TLS key and certificate
and the VPN keys, each folder as it was at one moment (also while \`identity promote\`
switches the pair; a folder that keeps changing for 10 s refuses the backup with
conflict, before anything is written; a symbolic link in them is copied as the link,
never followed; a FIFO or device, or a folder past 64 MiB, refuses the backup with
invalid_state). Works while the server runs. secrets.key is NOT
copied: it opens the operators' TOTP secrets sealed in the store, so keep one copy of
it apart from the backups (it never changes) and put it back beside the store to
restore. DIR holds keys: it is created owner-only, with backup.json saying when and
from where. Restore: stop the server, wait at least --clock-skew (300 s) after it
stopped (requests it accepted could be replayed sooner), put DIR in place of the data
dir with secrets.key, start.
The first start on the copy ends every operator session in it, refuses terminal
requests signed before it started, and deletes backup.json (docs/ADMIN-OPS.md,
"Backing up the server").

Options:
  --out DIR           where the copy goes (a new or empty folder)
  --json              {out, storeBytes, copied} as JSON
${DATA_DIR}

Example:
  pairing-server backup --data-dir /var/lib/pairing --out /backup/pairing-$(date +%F)`,

  'users list': `Usage: pairing-server users list [--json] [--data-dir DIR]

Lists the operators: name, 2FA or not (without it: until when their enrolment code
works, if they have one), when created, disabled or not (and since when), and role
(operator or viewer). Works while the server runs.

Options:
  --json              [{user, has2fa, role, createdAt, disabled, disabledAt,
                      enrolmentCodeUntil}] as JSON
${DATA_DIR}

Example:
  pairing-server users list --data-dir /var/lib/pairing`,

  'users disable': `Usage: pairing-server users disable NAME [--force] [--json] [--data-dir DIR]

Locks an operator out (they left, lost their phone, leaked their password): their
login is refused like a wrong password, and every session they hold ends at once
(their open pages and cas commands get session_expired). The account stays, with
its audit trail; users enable undoes it. Works while the server runs, and the
operators logged in are told at once. Audited, refusals included.

The last enabled operator with 2FA is not disabled without --force: nobody left
could approve a pairing. Give another operator 2FA first.

Options:
  --force             disable the last enabled operator with 2FA anyway
  --json              {user, sessionsEnded, disabled} as JSON
${DATA_DIR}

Example:
  pairing-server users disable bob --data-dir /var/lib/pairing`,

  'users enable': `Usage: pairing-server users enable NAME [--json] [--data-dir DIR]

Lets a disabled operator log in again, with the password and 2FA they had (reset
them first with users passwd and users reset-2fa if those were the reason). Works
while the server runs. Audited, refusals included. An operator who was not disabled is
left as they are (their sessions too), and it says so.

Options:
  --json              {user, sessionsEnded, disabled, wasDisabled} as JSON
${DATA_DIR}

Example:
  pairing-server users enable bob --data-dir /var/lib/pairing`,

  'users reset-2fa': `Usage: pairing-server users reset-2fa NAME [--no-2fa] [--json] [--data-dir DIR]

Gives an operator a new TOTP secret (a lost or replaced phone): it prints the
otpauth:// URI once, to enrol in an authenticator app; the old secret's codes stop
working, an enrolment in progress is dropped, and every session the operator holds
ends. With --no-2fa they get none but a new enrolment code, printed once, and enrol
again themselves with it (cas totp enroll --code CODE, or Set up 2FA on the web
page); this is also how an operator whose code expired or was spent gets a new one.
Works while the server runs. Audited, refusals included (never the secret or code).

Options:
  --no-2fa            no new secret: the operator enrols one later with the code
  --json              {user, totpSecret, otpauthUri, enrolmentCode,
                      enrolmentCodeExpiresAt, sessionsEnded} as JSON
${DATA_DIR}

Example:
  pairing-server users reset-2fa bob --data-dir /var/lib/pairing`,

  'users passwd': `Usage: pairing-server users passwd NAME --password-stdin [--json] [--data-dir DIR]

Sets a new password (12 to 1024 characters, the first line of standard input, never
an argument) and ends every session the operator holds. Works while the server
runs. Audited, refusals included (never the password).

Options:
  --password-stdin    read the password from standard input (required; typed at a
                      terminal: after a prompt, not shown, and asked twice)
  --json              {user, sessionsEnded} as JSON
${DATA_DIR}

Example:
  echo 'a new long passphrase' | pairing-server users passwd bob --password-stdin --data-dir /var/lib/pairing`,

  'users role': `Usage: pairing-server users role NAME operator|viewer [--force] [--json] [--data-dir DIR]

Sets what an account may do. An operator does everything its 2FA allows; a viewer
(support staff, auditors) sees the terminals, pairing requests, audit log, gate and
server status, and is refused with forbidden every op that changes something:
creating, editing, deleting or unpairing terminals, approving or rejecting pairing,
deposit addresses, the gate, the VPN. A change ends every session the operator holds
(their open pages and cas commands get session_expired, and log in again under the
new role); giving the role they have changes nothing and says so. Works while the
server runs, and the operators logged in are told at once. Audited, refusals included.

The last enabled operator with 2FA is not made a viewer without --force: nobody left
could approve a pairing.

Options:
  --force             make the last enabled operator with 2FA a viewer anyway
  --json              {user, role, previous, sessionsEnded} as JSON
${DATA_DIR}

Examples:
  pairing-server users role audrey viewer --data-dir /var/lib/pairing
  pairing-server users role audrey operator --data-dir /var/lib/pairing`,

  'audit verify': `Usage: pairing-server audit verify [--head SEQ:HASH] [--json] [--data-dir DIR]

Checks the audit log's hash chain: every entry hashes the one before, so an entry
edited, removed or reordered breaks it. Names the first broken entry and exits 1.
Works while the server runs.

The chain has no key: whoever can write the store can cut its newest entries, or
edit one and hash every entry after it again. Every \`server status\` log line
(once a minute) records the head as auditHead {seq, hash}: give one from the logs
you ship elsewhere, and the check also fails when the log no longer reaches that
entry or holds another entry in its place.

Options:
  --head SEQ:HASH     an anchor from a log line's auditHead, e.g. 42:3f5c… (64 hex digits)
  --json              {ok, entries, head} or {ok: false, firstBroken, reason} as JSON
${DATA_DIR}

Examples:
  pairing-server audit verify --data-dir /var/lib/pairing
  pairing-server audit verify --head 1234:9b1f…e07 --data-dir /var/lib/pairing`,

  'identity prepare': `Usage: pairing-server identity prepare [--server-key FILE --server-cert FILE] [--force] [--json] [--data-dir DIR]

Prepares the server's next TLS identity beside the current one, as tls/next.key and
tls/next.crt (owner-only): a new ECDSA P-256 key and self-signed certificate, or a
copy of the licence pair given with --server-key/--server-cert (here they name the NEXT
pair, not the one the server runs with). Prints the next SFP. The certificate the server
serves is refused (conflict): the data dir's own, and the licence pair that
PAIRING_SERVER_KEY/PAIRING_SERVER_CERT in the environment give it.

Needs the server stopped (it takes the data dir's lock; the server reads tls/ only at
its start). From its next start gate and master announce the next SFP on every answer
(Pairing-Next-SFP), and each paired terminal that gets one remembers it; cas server
status counts the terminals seen since. Then stop the server, run identity promote,
and start it again: those terminals accept the new certificate and pin it. The rest
need terminal pair --expect-sfp NEW_SFP (docs/ADMIN-OPS.md, "Replacing the server
certificate"). Audited as server.identity_prepare.

A next identity prepared already is refused (already_exists) unless --force replaces
it; terminals that learned the old one learn the new one at their next call.

Options:
  --server-key FILE   with --server-cert: prepare this licence pair instead of a new one
  --server-cert FILE
  --force             replace a next identity prepared already
  --json              {sfp, replaced, certFile} as JSON
${DATA_DIR}

Examples:
  pairing-server identity prepare --data-dir /var/lib/pairing
  pairing-server identity prepare --server-key /etc/pairing/2027.key --server-cert /etc/pairing/2027.crt --data-dir /var/lib/pairing`,

  'identity promote': `Usage: pairing-server identity promote [--json] [--data-dir DIR]

Makes the prepared next identity the current one: tls/server.key and tls/server.crt are
kept as tls/previous.key and tls/previous.crt (replacing an older previous pair), then
replaced by the next pair, and the next pair is gone. Needs the server stopped, as
prepare; a promote cut short by a crash is finished by the next promote or start.
Without a prepared next identity: not_found, exit 1. Audited as
server.identity_promote.

Start the server afterwards. Terminals that heard the announcement accept the new
certificate at their next call and pin it; the others refuse it (server_pin_mismatch)
until terminal pair --expect-sfp NEW_SFP (the SFP promote prints). Operators move their
pin too (CAS_FINGERPRINT, the browser's certificate exception): the admin service
presents the new certificate as well. To go back, prepare the previous pair (identity
prepare --server-key DIR/tls/previous.key --server-cert DIR/tls/previous.crt), and
promote it in turn once terminals have heard it.

Options:
  --json              {sfp, previousSfp} as JSON
${DATA_DIR}

Example:
  pairing-server identity promote --data-dir /var/lib/pairing`,

  'identity status': `Usage: pairing-server identity status [--json] [--data-dir DIR]

Prints the current SFP (tls/server.crt, or the --server-cert given, as fingerprint
takes it), the prepared next SFP and since when a server announced it, and the
previous SFP kept by the last promote. Works while the server runs. cas server status
shows how many terminals have been seen since the announcement began.

Options:
  --json              {current, next, announcedSince, previous} as JSON
${DATA_DIR}

Example:
  pairing-server identity status --data-dir /var/lib/pairing`,
};
