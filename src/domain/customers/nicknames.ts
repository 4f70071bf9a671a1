/**
 * Given names that name the same person: each group is a formal name followed by the
 * short and familiar forms in use for it (English first; a few common European forms).
 * Data, not code: add a group or a name to a group; a name may sit in several groups
 * (Chris: Christopher and Christine), and then it matches any of them.
 */
export const NICKNAME_GROUPS: readonly (readonly string[])[] = [
  ['abigail', 'abby', 'abbie', 'gail'],
  ['alexander', 'alex', 'alec', 'sandy', 'xander', 'sasha'],
  ['alexandra', 'alex', 'alexa', 'sandra', 'sandy', 'sasha', 'lexi'],
  ['andrew', 'andy', 'drew', 'andre'],
  ['anthony', 'tony', 'ant'],
  ['barbara', 'barb', 'babs', 'barbie'],
  ['benjamin', 'ben', 'benny', 'benji'],
  ['catherine', 'katherine', 'kathryn', 'cathy', 'kathy', 'kate', 'katie', 'cat', 'kat', 'kay', 'trina'],
  ['charles', 'charlie', 'chuck', 'chas', 'carl'],
  ['charlotte', 'charlie', 'lottie', 'lotte'],
  ['christopher', 'chris', 'kit', 'topher'],
  ['christine', 'christina', 'chris', 'chrissy', 'tina', 'kristin', 'kristen'],
  ['daniel', 'dan', 'danny'],
  ['david', 'dave', 'davy'],
  ['deborah', 'debra', 'deb', 'debbie'],
  ['donald', 'don', 'donny'],
  ['dorothy', 'dot', 'dottie', 'dolly'],
  ['edward', 'ed', 'eddie', 'ted', 'teddy', 'ned'],
  ['elizabeth', 'liz', 'lizzie', 'beth', 'betty', 'betsy', 'eliza', 'libby', 'lisa', 'bess', 'elsa', 'ellie'],
  ['eleanor', 'ellie', 'nell', 'nora', 'elle'],
  ['emily', 'em', 'emmy', 'millie'],
  ['francis', 'frank', 'fran', 'frankie'],
  ['frances', 'fran', 'frannie', 'frankie'],
  ['frederick', 'fred', 'freddy', 'fritz'],
  ['gregory', 'greg'],
  ['harold', 'harry', 'hal'],
  ['henry', 'harry', 'hank', 'hal'],
  ['isabella', 'isabel', 'bella', 'izzy', 'belle'],
  ['jacob', 'jake', 'jack'],
  ['james', 'jim', 'jimmy', 'jamie', 'jem'],
  ['jennifer', 'jen', 'jenny', 'jenn'],
  ['jessica', 'jess', 'jessie'],
  ['john', 'jon', 'johnny', 'jack', 'hans', 'jan', 'juan', 'johan', 'johann', 'jean'],
  ['jonathan', 'jon', 'jonny', 'nathan'],
  ['joseph', 'joe', 'joey', 'jose', 'giuseppe', 'josef'],
  ['josephine', 'jo', 'josie', 'jo-jo'],
  ['joshua', 'josh'],
  ['judith', 'judy', 'jude'],
  ['katharina', 'katrin', 'katja', 'kate'],
  ['kenneth', 'ken', 'kenny'],
  ['lawrence', 'laurence', 'larry', 'laurie'],
  ['leonard', 'leo', 'len', 'lenny'],
  ['margaret', 'maggie', 'meg', 'peggy', 'marge', 'margie', 'greta', 'daisy', 'madge', 'rita'],
  ['matthew', 'matt', 'matty', 'mathias'],
  ['michael', 'mike', 'mikey', 'mick', 'mickey', 'michel', 'miguel', 'mikhail'],
  ['nicholas', 'nick', 'nicky', 'klaus', 'nico', 'nikolai'],
  ['patricia', 'pat', 'patty', 'trish', 'tricia'],
  ['patrick', 'pat', 'paddy', 'rick'],
  ['peter', 'pete', 'pierre', 'pedro'],
  ['philip', 'phillip', 'phil', 'pip'],
  ['rebecca', 'becky', 'becca', 'becks'],
  ['richard', 'rich', 'rick', 'ricky', 'dick', 'rico'],
  ['robert', 'rob', 'robbie', 'bob', 'bobby', 'bert'],
  ['ronald', 'ron', 'ronnie'],
  ['samuel', 'sam', 'sammy'],
  ['samantha', 'sam', 'sammy', 'sammie'],
  ['sarah', 'sara', 'sally', 'sadie'],
  ['stephen', 'steven', 'steve', 'stevie', 'stefan', 'esteban'],
  ['susan', 'sue', 'susie', 'suzanne', 'susanne'],
  ['theodore', 'theo', 'ted', 'teddy'],
  ['thomas', 'tom', 'tommy', 'thom'],
  ['timothy', 'tim', 'timmy'],
  ['victoria', 'vicky', 'tori', 'vic'],
  ['william', 'will', 'bill', 'billy', 'willy', 'liam', 'wilhelm', 'guillaume'],
  ['zachary', 'zach', 'zack'],
];

/** For each name (lower case): the ids of the groups it belongs to. */
export const NICKNAME_INDEX: ReadonlyMap<string, readonly number[]> = (() => {
  const index = new Map<string, number[]>();
  NICKNAME_GROUPS.forEach((group, id) => {
    for (const name of group) index.set(name, [...(index.get(name) ?? []), id]);
  });
  return index;
})();

/** True when two given names (folded, lower case) are forms of the same name in the table. */
export function sameNameGroup(a: string, b: string): boolean {
  const groupsOfA = NICKNAME_INDEX.get(a);
  const groupsOfB = NICKNAME_INDEX.get(b);
  return !!groupsOfA && !!groupsOfB && groupsOfA.some((group) => groupsOfB.includes(group));
}

/**
 * The group members of one name that another name may be a mistyped form of ("wiliam" and
 * "bill"): true when similar(a, a member of b's groups) or the other way round.
 */
export function nicknameWithTypo(a: string, b: string, similar: (x: string, y: string) => boolean): boolean {
  const near = (name: string, groups: readonly number[] | undefined) => !!groups && groups.some((group) => NICKNAME_GROUPS[group]!.some((member) => similar(name, member)));
  return near(a, NICKNAME_INDEX.get(b)) || near(b, NICKNAME_INDEX.get(a));
}

/** The formal name that stands for a given name in blocking keys (the first group's), or the name itself. */
export function canonicalGivenName(name: string): string {
  const groups = NICKNAME_INDEX.get(name);
  return groups ? NICKNAME_GROUPS[groups[0]!]![0]! : name;
}
