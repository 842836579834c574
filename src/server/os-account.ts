/** @module Who runs a server command on this machine, as the audit log names them. */
import os from 'node:os';

/**
 * Who runs the command (or starts the server), into `createdBy` and the audit log: the account of the process's user
 * id, not $USER, which anyone sets (USER=alice) and which is unset in many service environments. Under sudo, who
 * called it: `cli:root(sudo:alice)`. Only as trustworthy as the machine's accounts: whoever is root can write the store.
 */
export function cliUser(): string {
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    // A user id without a passwd entry (a container started with --user 1234).
    name = `uid${process.getuid?.() ?? '?'}`;
  }
  const caller = process.env.SUDO_USER;
  return `cli:${name}${caller && caller !== name ? `(sudo:${caller.replace(/\s/g, '')})` : ''}`;
}
