/**
 * What the console sends to the browser (ADR 0025): secrets never, personal data only to
 * operators and admins. Viewers get e-mail addresses, names, phones and street addresses
 * masked here, on the server, so the unmasked values never reach their browser. The customer
 * API masks the same way for clients without customers:pii (ADR 0039).
 */

// Keys whose values are credentials: dropped for every role.
const SECRET_KEY = /secret|password|passwd|token|authorization|api[_-]?key|credential|signature/i;
// Objects that describe a person (the canonical customer and addresses, a customer's contact
// points and golden values): every string in them is masked for viewers, except the country
// (needed to read routing and tax outcomes) and the ids and rules naming where a value came from.
const PERSON = /^(customer|shippingAddress|billingAddress|address|addresses|emails|phones|email|phone|givenName|familyName)$/;
const KEPT_IN_PERSON = /^(country|id|recordId|rule)$/;
// Keys that hold personal data wherever they appear.
const PERSONAL_KEY = /^(email|customerEmail|phone|givenName|familyName)$/i;
const EMAIL_IN_TEXT = /[^\s@"'<>]+@[^\s@"'<>]+\.[A-Za-z]{2,}/g;
const EMAIL = /^[^\s@"'<>]+@[^\s@"'<>]+$/;

/** `ada@example.com` → `a***@e***.com`: enough to tell two customers apart, not to contact one. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const tld = dot >= 0 ? domain.slice(dot) : '';
  return `${email[0]}***@${domain[0] ?? ''}***${tld}`;
}

const maskText = (text: string) => (text.length === 0 ? text : `${text[0]}***`);

function walk(value: unknown, mask: boolean, key: string | undefined, inPerson: boolean): unknown {
  if (typeof value === 'string') {
    if (!mask) return value;
    if (key && /email/i.test(key)) return maskEmail(value);
    if ((inPerson && !(key && KEPT_IN_PERSON.test(key))) || (key && PERSONAL_KEY.test(key))) return EMAIL.test(value) ? maskEmail(value) : maskText(value);
    return value.replace(EMAIL_IN_TEXT, maskEmail);
  }
  if (Array.isArray(value)) return value.map((item) => walk(item, mask, key, inPerson));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEY.test(k)) continue;
      out[k] = walk(v, mask, k, inPerson || PERSON.test(k));
    }
    return out;
  }
  return value;
}

/** A response body fit for a console user: secrets removed; personal data masked when `maskPersonal`. */
export function forBrowser<T>(value: T, maskPersonal: boolean): T {
  return walk(value, maskPersonal, undefined, false) as T;
}
