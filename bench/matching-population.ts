import type { CustomerRecordData, CustomerSystem } from '../src/model/customer.ts';
import { normalizePhone } from '../src/model/contact-points.ts';
import { NICKNAME_GROUPS } from '../src/domain/customers/nicknames.ts';

/**
 * A generated customer population with known truth, for `npm run bench -- matching`:
 * people (some in households that share an address and a family e-mail), each seen by
 * one to four systems (web channels, loyalty, CRM, ERP) with the mess real records have:
 * nicknames, typos, names given in the wrong order, moved addresses, gmail dots and plus
 * tags, phones written every way, missing fields. Seeded: the same seed, the same population.
 */

/** A small, seeded PRNG (mulberry32): the population must not change between runs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAMILY_NAMES = [
  'smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez', 'gonzalez', 'wilson', 'anderson',
  'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'sanchez', 'clark', 'ramirez', 'lewis', 'robinson', 'walker',
  'young', 'allen', 'king', 'wright', 'scott', 'torres', 'nguyen', 'hill', 'flores', 'green', 'adams', 'nelson', 'baker', 'hall', 'rivera', 'campbell', 'mitchell',
  'carter', 'roberts', 'gomez', 'phillips', 'evans', 'turner', 'diaz', 'parker', 'cruz', 'edwards', 'collins', 'reyes', 'stewart', 'morris', 'morales', 'murphy',
  'cook', 'rogers', 'gutierrez', 'ortiz', 'morgan', 'cooper', 'peterson', 'bailey', 'reed', 'kelly', 'howard', 'ramos', 'kim', 'cox', 'ward', 'richardson', 'watson',
  'brooks', 'chavez', 'wood', 'james', 'bennett', 'gray', 'mendoza', 'ruiz', 'hughes', 'price', 'alvarez', 'castillo', 'sanders', 'patel', 'myers', 'long', 'ross',
  'foster', 'jimenez', 'powell', 'jenkins', 'perry', 'russell', 'sullivan', 'bell', 'coleman', 'butler', 'henderson', 'barnes', 'gonzales', 'fisher', 'vasquez',
  'simmons', 'romero', 'jordan', 'patterson', 'alexander', 'hamilton', 'graham', 'reynolds', 'griffin', 'wallace', 'moreno', 'west', 'cole', 'hayes', 'bryant',
  'herrera', 'gibson', 'ellis', 'tran', 'medina', 'aguilar', 'stevens', 'murray', 'ford', 'castro', 'marshall', 'owens', 'harrison', 'fernandez', 'mcdonald',
  'woods', 'washington', 'kennedy', 'wells', 'vargas', 'henry', 'chen', 'freeman', 'webb', 'tucker', 'guzman', 'burns', 'crawford', 'olson', 'simpson', 'porter',
  'hunter', 'gordon', 'mendez', 'silva', 'shaw', 'snyder', 'mason', 'dixon', 'munoz', 'hunt', 'hicks', 'holmes', 'palmer', 'wagner', 'black', 'robertson', 'boyd',
  'rose', 'stone', 'salazar', 'fox', 'warren', 'mills', 'meyer', 'rice', 'schmidt', 'garza', 'daniels', 'ferguson', 'nichols', 'stephens', 'soto', 'weaver', 'ryan',
  'gardner', 'payne', 'grant', 'dunn', 'kelley', 'spencer', 'hawkins', 'arnold', 'pierce', 'vazquez', 'hansen', 'peters', 'santos', 'hart', 'bradley', 'knight',
  'elliott', 'cunningham', 'duncan', 'armstrong', 'hudson', 'carroll', 'lane', 'riley', 'andrews', 'alvarado', 'ray', 'delgado', 'berry', 'perkins', 'hoffman',
  'johnston', 'matthews', 'pena', 'richards', 'contreras', 'willis', 'carpenter', 'lawrence', 'sandoval', 'guerrero', 'george', 'chapman', 'rios', 'estrada',
  'ortega', 'watkins', 'greene', 'nunez', 'wheeler', 'valdez', 'harper', 'burke', 'larson', 'santiago', 'maldonado', 'morrison', 'franklin', 'carlson', 'austin',
  'dominguez', 'carr', 'lawson', 'jacobs', 'obrien', 'lynch', 'singh', 'vega', 'bishop', 'montgomery', 'oliver', 'jensen', 'harvey', 'williamson', 'gilbert',
];
const OTHER_GIVEN = ['olivia', 'emma', 'ava', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'noah', 'oliver', 'elijah', 'lucas', 'mason', 'logan', 'ethan', 'aiden',
  'grace', 'chloe', 'zoe', 'nora', 'lily', 'hannah', 'layla', 'aria', 'ryan', 'nathan', 'dylan', 'owen', 'caleb', 'hunter', 'adrian', 'jordan', 'maya', 'leah', 'ruby'];
const FORMAL_GIVEN = NICKNAME_GROUPS.map((group) => group[0]!);
const STREETS = ['main', 'oak', 'pine', 'maple', 'cedar', 'elm', 'washington', 'lake', 'hill', 'park', 'sunset', 'river', 'church', 'mill', 'spring', 'ridge', 'meadow', 'forest', 'highland', 'jackson'];
const STREET_KINDS = [['Street', 'St'], ['Avenue', 'Ave'], ['Road', 'Rd'], ['Drive', 'Dr'], ['Lane', 'Ln']] as const;
const AREA_CODES = ['212', '312', '415', '617', '646', '718', '202', '305', '404', '512', '206', '303'];
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'example.net', 'mail.example.org'];
const CONNECTIONS: Record<CustomerSystem, string[]> = { channel: ['shopify-us', 'woocommerce-us', 'pos-stores'], loyalty: ['loyalty'], crm: ['crm'], erp: ['erp'] };

interface Address { line1: string; line2?: string; city: string; postalCode: string; country: string }
interface Person {
  id: number;
  given: string;
  family: string;
  email: string | undefined;
  familyEmail: string | undefined;
  phone: string | undefined;
  address: Address;
  movedTo: Address | undefined;
  loyaltyId: string | undefined;
  erpId: string | undefined;
}

export interface LabelledRecord {
  personId: number;
  record: CustomerRecordData;
}

export interface PopulationOptions {
  /** Records to generate (default: 50,000). */
  records: number;
  seed: number;
}

/** Generates the population: records in arrival order, each labelled with the person it is. */
export function generatePopulation({ records: total, seed }: PopulationOptions): LabelledRecord[] {
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const chance = (p: number) => random() < p;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  const phone = () => {
    for (;;) {
      const number = `+1${pick(AREA_CODES)}${2 + Math.floor(random() * 8)}${digits(2)}${digits(4)}`;
      if (normalizePhone(number) === number) return number;
    }
  };
  const address = (): Address => {
    const [long] = pick(STREET_KINDS);
    return { line1: `${1 + Math.floor(random() * 9999)} ${cap(pick(STREETS))} ${long}`, ...(chance(0.2) ? { line2: `Apt ${1 + Math.floor(random() * 40)}` } : {}), city: 'Springfield', postalCode: `${10000 + Math.floor(random() * 1500)}`, country: 'US' };
  };
  let serial = 0;
  const people: Person[] = [];
  const newPerson = (household?: Person): Person => {
    const family = household ? household.family : pick(FAMILY_NAMES);
    const given = chance(0.6) ? pick(FORMAL_GIVEN) : pick(OTHER_GIVEN);
    const id = people.length;
    const person: Person = {
      id,
      given,
      family,
      email: chance(0.9) ? `${given}${chance(0.5) ? '.' : ''}${family}${chance(0.4) ? digits(2) : ''}${++serial}@${pick(DOMAINS)}` : undefined,
      familyEmail: household?.familyEmail ?? (chance(0.3) ? `the${family}s${++serial}@${pick(DOMAINS)}` : undefined),
      phone: chance(0.75) ? phone() : undefined,
      address: household ? household.address : address(),
      movedTo: chance(0.15) ? address() : undefined,
      loyaltyId: chance(0.5) ? `LM-${digits(8)}` : undefined,
      erpId: chance(0.2) ? `P${digits(7)}` : undefined,
    };
    people.push(person);
    return person;
  };

  const labelled: LabelledRecord[] = [];
  while (labelled.length < total) {
    const head = newPerson();
    const household = chance(0.2) ? [head, ...Array.from({ length: 1 + Math.floor(random() * 3) }, () => newPerson(head))] : [head];
    for (const person of household) {
      // How many systems know the person: true duplicates are the records after the first.
      const systems = shuffle(random, (['channel', 'channel', 'loyalty', 'crm', 'erp'] as CustomerSystem[]).filter((s) => (s === 'erp' ? !!person.erpId : s === 'loyalty' ? !!person.loyaltyId : true)));
      const count = 1 + Math.floor(random() * Math.min(4, systems.length));
      for (const system of systems.slice(0, count)) {
        if (labelled.length >= total) break;
        labelled.push({ personId: person.id, record: recordOf(person, system) });
      }
    }
  }
  return shuffle(random, labelled);

  function recordOf(person: Person, system: CustomerSystem): CustomerRecordData {
    const moved = !!person.movedTo && chance(0.5);
    const home = moved ? person.movedTo! : person.address;
    let given = chance(0.25) ? nicknameOf(person.given) : person.given;
    let family = person.family;
    if (chance(0.08)) given = typo(given);
    else if (chance(0.08)) family = typo(family);
    if (chance(0.02)) [given, family] = [family, given];
    const emails: { address: string; verified: boolean }[] = [];
    // Guests on the web give the family mailbox more often than the rest.
    const mailbox = system === 'channel' && person.familyEmail && chance(0.5) ? person.familyEmail : (person.email ?? person.familyEmail);
    if (mailbox && chance(0.92)) emails.push({ address: emailVariant(mailbox), verified: system !== 'channel' && mailbox === person.email && chance(0.7) });
    const phones = person.phone && chance(0.7) ? [phoneVariant(person.phone)] : [];
    const externalId = system === 'loyalty' ? person.loyaltyId! : system === 'erp' ? person.erpId! : `${system}-${digits(10)}`;
    return {
      system,
      connection: pick(CONNECTIONS[system]),
      externalId,
      ...(chance(0.97) ? { givenName: cap(given) } : {}),
      familyName: cap(family),
      emails,
      phones,
      addresses: chance(0.9) ? [addressVariant(home)] : [],
      references: {
        ...(system === 'channel' && person.loyaltyId && chance(0.3) ? { loyaltyId: person.loyaltyId } : {}),
        ...(system === 'crm' && person.erpId && chance(0.5) ? { erpPartyId: person.erpId } : {}),
      },
      attributes: system === 'erp' ? { legalAccount: person.erpId!, paymentTerms: 'NET30' } : system === 'loyalty' ? { loyaltyPoints: Math.floor(random() * 5000), loyaltyTier: pick(['silver', 'gold']) } : {},
      observedAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 300 * 86_400_000)).toISOString(),
    };
  }

  function nicknameOf(given: string): string {
    const group = NICKNAME_GROUPS.find((g) => g[0] === given);
    return group ? pick(group) : given;
  }
  function typo(name: string): string {
    if (name.length < 4) return name;
    const i = 1 + Math.floor(random() * (name.length - 2));
    return chance(0.5) ? name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2) : name.slice(0, i) + name.slice(i + 1);
  }
  function emailVariant(email: string): string {
    const [local, domain] = email.split('@') as [string, string];
    if (domain === 'gmail.com' && chance(0.3)) return `${local.replace('.', '')}+shop@${chance(0.5) ? 'googlemail.com' : 'gmail.com'}`;
    return chance(0.2) ? email.toUpperCase() : email;
  }
  function phoneVariant(e164: string): string {
    const n = e164.slice(2);
    return pick([e164, `(${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`, `${n.slice(0, 3)}.${n.slice(3, 6)}.${n.slice(6)}`, `+1 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`]);
  }
  function addressVariant(a: Address): Address {
    let line1 = a.line1;
    for (const [long, short] of STREET_KINDS) if (chance(0.5)) line1 = line1.replace(long, short);
    return { ...a, line1: chance(0.2) ? line1.toUpperCase() : line1 };
  }
}

function shuffle<T>(random: () => number, values: T[]): T[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

const cap = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
