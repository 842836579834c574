/** @module Help texts of the terminal CLI: one overview and one page per command, written for the installer standing at the machine. */

export const COMMANDS = [
  'init',
  'status',
  'pair',
  'ping',
  'cash-event',
  'deposit-address',
  'vpn-config',
  'set-server',
  'factory-reset',
  'backup',
  'restore',
] as const;
export type Command = (typeof COMMANDS)[number];

const COMMON = `Options for every command:
  --state DIR   the terminal's state directory (default: $TERMINAL_STATE, else ./terminal-state)
  --json        print one JSON object on stdout instead of text (errors too: {"error","message"})
  -h, --help    this help`;

export const OVERVIEW = `terminal — a command-line cash/crypto terminal that pairs with a pairing server

Usage: terminal [--state DIR] [--json] <command> [options]
       terminal <command> --help

A terminal has its own private key and certificate (made by \`init\`; the key never
leaves the state directory). Its Terminal Certificate Fingerprint (TFP) is what the
server pins once an operator approves the pairing. The terminal in turn pins the
server's certificate fingerprint (SFP) on its first contact with the gate and refuses
any other server afterwards: moving it to a server with another SFP takes
\`--expect-sfp\` with that server's fingerprint, confirmed with its operator. The one
exception: a certificate the pinned server itself announced as its next one
(Pairing-Next-SFP) is accepted when the server switches to it, and becomes the pin.

Typical first start:
  terminal init --serial BT100200            make the key pair and certificate
  terminal pair --gate https://server:7741 --wait
                                             show the pairing code; wait for the operator
  terminal ping                              check the trusted connection to master

Commands:
  init             create this terminal's key pair and certificate (first start)
  status           show serial, TFP, server, pinned SFP and pairing state
  pair             ask the gate to pair; shows the pairing code for the operator
  ping             heartbeat to the master service (needs a paired terminal)
  cash-event       report inserted banknotes to master
  deposit-address  ask master for the operator's deposit address for a coin
  vpn-config       print the OpenVPN profile the server gave (--out FILE: with this terminal's key)
  set-server       change the server address (the pin and pairing go once the new gate answers)
  factory-reset    delete key, certificate and state: this terminal's identity is gone
  backup           write an encrypted restore point (key + certificate + state)
  restore          bring a terminal back from a restore point

${COMMON}

Exit codes: 0 done; 1 failed (see the error code); 2 usage error;
            3 pair --wait timed out while the operator had not decided yet.`;

export const COMMAND_HELP: Readonly<Record<Command, string>> = {
  init: `Usage: terminal init --serial SERIAL [--key rsa|ec|ed25519] [--rsa-bits N]

First start of a terminal: generates its private key and a self-signed certificate whose
subject CN is SERIAL, and prints the serial and the Terminal Certificate Fingerprint (TFP).
The private key is written to key.pem (mode 0600) and never leaves the state directory
except inside an encrypted restore point (see \`backup\`).

Refuses when the state directory already holds a terminal; \`factory-reset\` first
(which destroys the old identity: the server will see a new TFP).

  --serial SERIAL   the serial number the operator created on the server (A-Z a-z 0-9 . _ -)
  --key KIND        ec (ECDSA P-256, default), ed25519, or rsa
  --rsa-bits N      RSA size, 2048 (default) to 4096

${COMMON}`,
  status: `Usage: terminal status

Shows what the terminal knows: serial, key type, TFP, the gate and master URLs, the
pinned Server Certificate Fingerprint (SFP), whether it is paired, and a pairing in
progress with its code. Never shows the private key or the secret pairing nonce.

"next SFP" is the certificate the pinned server announced it will switch to (shown
only while one is known): the terminal accepts it in place of the pinned SFP, pins it
at the first answer from a server presenting it (with a note on stderr), and forgets
it when the server stops announcing it.

"paired" is what the server said at the last contact (its time is shown): an operator
may have unpaired the terminal since. \`terminal ping\` asks the server now.

${COMMON}`,
  pair: `Usage: terminal pair [--gate URL] [--expect-sfp SFP] [--wait] [--timeout SECONDS] [--interval SECONDS]

Asks the server's gate service (port 7741 by default) to trust this terminal.

1. The operator must first create this terminal's serial on the server, and open the gate.
2. The terminal sends its certificate and a commitment; on its very first contact with
   this gate it pins the server's certificate fingerprint (SFP).
3. A 12-digit PAIRING CODE appears. The same code appears in the operator's list of
   pairing requests. The operator's staff calls the location and you READ THE CODE TO
   THEM. If the codes match, the operator approves; if they differ, someone is in the
   middle: the operator must reject.
4. Once approved, the terminal is trusted: it stores the master URL and can make calls.

Without --wait, pair shows the code and returns; run pair again later to learn the
outcome (it resumes the same request instead of starting a new one).
With --wait, it keeps asking until the operator approves or rejects.
If the terminal is already trusted, pair reports "trusted" at once.
If the request expired before the operator decided, pair says that the old code is
void and shows the code of a new request.

The gate listens only while the operator has it open (\`cas gate open\`); a closed gate
refuses the connection (server_unreachable, ECONNREFUSED).

After a rejection (by an operator, or after too many wrong codes) this certificate
cannot pair again until the rejection expires (24 h by default) or after
\`factory-reset\` (new key). Call the operator first.

  --gate URL           the gate, e.g. https://server.example:7741 (remembered; needed the
                       first time). A different URL than before switches to that gate:
                       a paired terminal (or one with a pairing in progress) forgets its
                       pinned SFP, master URL and pairing only once the new gate has
                       answered the pairing request; if it cannot be reached or refuses,
                       nothing changes. The current URL again cancels a set-server switch.
                       A terminal that has pinned an SFP accepts a new gate only if it
                       presents the same SFP (the same server at a new address), the next
                       SFP that server announced (status: next SFP), or the one given
                       with --expect-sfp; otherwise server_pin_mismatch, and not a byte
                       is sent to that gate.
  --expect-sfp SFP     the SFP the new gate must present, when it is not the pinned one
                       (moving to another server, or the server's certificate really
                       changed). 64 hex digits, colons allowed, any case. Get it from that
                       server's operator (\`pairing-server fingerprint\`) over a channel you
                       trust: never from the person or page that asked you to switch. A
                       fake gate that answers the pairing request can hand this terminal
                       its own master, deposit addresses included.
  --wait               wait for the operator's decision
  --timeout SECONDS    with --wait: give up after this long (exit code 3); default: no limit
  --interval SECONDS   with --wait: time between polls (default 2)

${COMMON}`,
  ping: `Usage: terminal ping

Signed heartbeat to the master service; prints the server time. Fails with not_paired
when the terminal is not (or no longer) trusted: pair again.

${COMMON}`,
  'cash-event': `Usage: terminal cash-event --currency C --denomination N --count K [--event-id ID]

Reports banknotes inserted into the acceptor to master. The server stores the event
durably before answering; sending the same event id again is recognised as a duplicate,
so retrying after a lost answer is safe. When no answer comes (server_unreachable, or
the server busy), the error names the event id (--json: eventId): send it again with
--event-id ID.

  --currency C       ISO 4217 code, e.g. USD
  --denomination N   value of one banknote, e.g. 20
  --count K          number of banknotes
  --event-id ID      idempotency key (default: a new random UUID)

${COMMON}`,
  'deposit-address': `Usage: terminal deposit-address --coin COIN

Asks master for the operator's deposit address for COIN (e.g. BTC). The answer comes over
the pinned connection, so it is the operator's address and not an attacker's.

${COMMON}`,
  'vpn-config': `Usage: terminal vpn-config [--out FILE]

Deployment scenario A: a terminal the operator created with VPN receives an OpenVPN
client profile from the gate once it is trusted (\`terminal pair\` stores it). This
prints that profile: the server's address, its CA, this terminal's VPN certificate (for
this terminal's own key) and the tls-crypt key. It holds no private key.

  --out FILE   write the complete profile for the OpenVPN client instead: the same text
               plus this terminal's private key as a <key> block. FILE is written with
               mode 0600 (replaced if it exists). Start the tunnel: openvpn --config FILE

After the operator moves the VPN (\`cas vpn regenerate\`), run \`terminal pair\` to fetch
the new profile; no new pairing code is needed. Fails with not_found when the server gave
no VPN configuration: it gives one only to terminals the operator created with VPN
(\`cas terminals create SERIAL --vpn\`), which cannot be switched on later.

${COMMON}`,
  'set-server': `Usage: terminal set-server URL [--expect-sfp SFP]

Changes the gate address to URL. This forgets the master URL and any pairing: the next
\`pair\` needs the operator's approval again (unless that server already trusts this TFP).

A paired terminal (or one with a pairing in progress, or a pinned SFP) keeps its old
server until the new gate answers: set-server only notes URL, the next \`pair\` goes
there, and the old master URL and pairing are forgotten once that gate has answered.
Until then ping and cash events still go to the old master, and a mistyped URL changes
nothing. \`terminal pair --gate OLD-URL\` cancels the switch. Without anything to lose
the change is immediate.

The new gate must present the pinned SFP (the same server at a new address), the next
SFP that server announced (status: next SFP), or, when the terminal moves to another
server, the SFP given with --expect-sfp; any other certificate is refused
(server_pin_mismatch) before anything is sent to it.

  --expect-sfp SFP   the new server's fingerprint, 64 hex digits (colons allowed). Get it
                     from that server's operator (\`pairing-server fingerprint\`) over a
                     channel you trust, never from whoever asked you to switch.

${COMMON}`,
  'factory-reset': `Usage: terminal factory-reset [--yes]

Deletes the private key, the certificate and all state. The terminal's identity is gone
for good: the next \`init\` makes a new key and so a new TFP, which must be paired again.
Asks for confirmation on a terminal (naming the serial and TFP it deletes); scripts pass
--yes. Not confirmed: nothing is deleted, exit code 2.

${COMMON}`,
  backup: `Usage: terminal backup --out FILE

Writes a restore point: the key pair, certificate and state, encrypted with a passphrase
(scrypt + AES-256-GCM). The passphrase is read from standard input (first line; hidden
when typed at a terminal), at least 8 characters. FILE must not exist yet; its directory
must.

${COMMON}`,
  restore: `Usage: terminal restore --in FILE [--force]

Restores a terminal from a restore point made by \`backup\` (passphrase from standard
input, first line). The restored terminal has the same key and TFP, so a terminal paired
when the backup was made stays paired unless the operator unpaired it since
(\`terminal ping\` checks). Refuses to replace an initialized terminal unless --force.

${COMMON}`,
};
