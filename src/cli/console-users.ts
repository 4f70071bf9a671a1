import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import {
  addConsoleUser,
  CONSOLE_ROLES,
  isConsoleRole,
  listConsoleUsers,
  removeConsoleUser,
  setConsoleUserRole,
  type ChangeUserResult,
} from '../domain/console-users/console-user.service.ts';
import { ClientsUsageError, handleUsage, withDatabase } from './clients.ts';

export const CONSOLE_USERS_USAGE = `  console-users add <email> --role <viewer|operator|admin> [--name <name>] [--password-stdin]
                                 a person who signs in to /console; without --password-stdin a
                                 password is generated and printed once
  console-users list [--json]    console users: email, role, name (never passwords)
  console-users set-role <email> <viewer|operator|admin>
                                 change a role; the user's sessions end at once
  console-users remove <email>   delete a user and end their sessions (the last admin stays)`;

// One usage error for every command family: printed as one line, exit code 2.
const USAGE_ERROR = ClientsUsageError;

function roleOption(text: string | undefined): string {
  if (text === undefined) throw new USAGE_ERROR(`--role is required: one of ${CONSOLE_ROLES.join(', ')}`);
  if (!isConsoleRole(text)) throw new USAGE_ERROR(`unknown role "${text}"; roles: ${CONSOLE_ROLES.join(', ')}`);
  return text;
}

async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new USAGE_ERROR('--password-stdin reads the password from a pipe, for example: printf %s "$PASSWORD" | syncline console-users add ...');
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

function outcome(result: ChangeUserResult, email: string, what: string): number {
  switch (result.kind) {
    case 'not-found':
      console.error(`syncline console-users: no console user with e-mail ${email}`);
      return 1;
    case 'last-admin':
      console.error(`syncline console-users: ${email} is the last admin; make another user admin first`);
      return 1;
    case 'invalid':
      throw new USAGE_ERROR(result.problem);
    case 'done':
      console.log(what);
      return 0;
  }
}

/** Runs `syncline console-users <sub>`; prints its own errors and returns the exit code. */
export function runConsoleUsersCommand(args: string[], config: Config): Promise<number> {
  return handleUsage('console-users', async () => {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'add': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { role: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
          allowPositionals: true,
          strict: true,
        });
        if (positionals.length !== 1) throw new USAGE_ERROR('add takes one e-mail address, for example: syncline console-users add ada@example.com --role admin');
        const role = roleOption(values.role);
        const generated = values['password-stdin'] ? undefined : randomBytes(18).toString('base64url');
        const password = generated ?? (await readPasswordFromStdin());
        const result = await withDatabase(config, (db, who) => addConsoleUser(db, who, { email: positionals[0]!, role, password, ...(values.name ? { name: values.name } : {}) }));
        if (result.kind === 'invalid') throw new USAGE_ERROR(result.problem);
        if (result.kind === 'email-taken') {
          console.error(`syncline console-users: a console user with e-mail ${positionals[0]} already exists; use set-role to change it`);
          return 1;
        }
        console.log(`console user ${result.user.email} created with role ${result.user.role}`);
        if (generated) console.log(`password (shown once): ${generated}`);
        return 0;
      }
      case 'list': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, strict: true });
        const users = await withDatabase(config, (db) => listConsoleUsers(db));
        if (values.json) console.log(JSON.stringify(users, null, 2));
        else if (users.length === 0) console.log('no console users yet; create the first admin with: syncline console-users add <email> --role admin');
        else for (const user of users) console.log([user.email, user.role, user.name, ...(user.status === 'disabled' ? ['(disabled)'] : [])].join('  '));
        return 0;
      }
      case 'set-role': {
        const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true });
        if (positionals.length !== 2) throw new USAGE_ERROR('set-role takes an e-mail address and a role, for example: syncline console-users set-role ada@example.com operator');
        const [email, role] = positionals as [string, string];
        if (!isConsoleRole(role)) throw new USAGE_ERROR(`unknown role "${role}"; roles: ${CONSOLE_ROLES.join(', ')}`);
        const result = await withDatabase(config, (db, who) => setConsoleUserRole(db, who, email, role));
        return outcome(result, email, `${email} is now ${role}; their sessions were ended`);
      }
      case 'remove': {
        const { positionals } = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true });
        if (positionals.length !== 1) throw new USAGE_ERROR('remove takes one e-mail address, for example: syncline console-users remove ada@example.com');
        const result = await withDatabase(config, (db, who) => removeConsoleUser(db, who, positionals[0]!));
        return outcome(result, positionals[0]!, `console user ${positionals[0]} removed; their sessions were ended`);
      }
      default:
        throw new USAGE_ERROR(`unknown console-users command "${sub ?? ''}"; use add, list, set-role or remove`);
    }
  });
}
