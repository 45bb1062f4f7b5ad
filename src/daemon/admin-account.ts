// The first admin account. Its password comes from TANDEM_ADMIN_PASSWORD, or is generated, saved 0600
// in the data dir and handed back once so the daemon can print it.
import { writeFileSync } from 'node:fs';
import type { AccountsRepo } from '../config/repositories/accounts-repo.js';
import { generatePassword, hashPassword } from '../lib/password-hash.js';

export const ADMIN_ACCOUNT = 'admin';

export async function ensureAdminAccount(
  accounts: AccountsRepo,
  passwordFile: string,
  fromEnvironment: string | undefined,
): Promise<{ generatedPassword: string | null }> {
  if (accounts.byName(ADMIN_ACCOUNT)) return { generatedPassword: null };
  const given = fromEnvironment !== undefined && fromEnvironment.length > 0 ? fromEnvironment : null;
  const password = given ?? generatePassword();
  if (given === null) writeFileSync(passwordFile, `${password}\n`, { mode: 0o600, flag: 'w' });
  accounts.insert({
    name: ADMIN_ACCOUNT,
    passwordHash: await hashPassword(password),
    createdAt: new Date().toISOString(),
  });
  return { generatedPassword: given === null ? password : null };
}
