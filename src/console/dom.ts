/**
 * Building the page without innerHTML: every value becomes a text node, so nothing the server
 * sends can turn into markup or script.
 */
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

/** An element with attributes (on* keys become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replaces an element's content. */
export function show(target: Element, ...children: Array<Child | Child[]>): void {
  target.replaceChildren(...children.flat().filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
}

/** A table from rows; `columns` maps a header to how a row shows in that column. */
export function table<T>(rows: T[], columns: Record<string, (row: T) => Child>, empty = 'Nothing here.'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, Object.keys(columns).map((name) => h('th', {}, name)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, Object.values(columns).map((cell) => h('td', {}, cell(row)))))),
  );
}

/** A UTC time as "2026-11-22 10:15:03". */
export const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '—');

/** Asks for confirmation in a modal dialog; resolves true when the operator confirms. */
export function confirmDialog(message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm' });
    const close = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h('p', {}, message),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => close(false) }, 'Cancel'), h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, confirmLabel)),
    );
    dialog.addEventListener('cancel', () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Asks for one value (an input or a select) in a modal dialog; resolves its value when confirmed, undefined when cancelled. */
export function fieldDialog(message: string, field: HTMLInputElement | HTMLSelectElement, confirmLabel: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog' });
    const dialog = h('dialog', { class: 'confirm' }, form);
    const close = (answer: string | undefined) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    form.append(
      h('p', {}, message),
      field,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => close(undefined) }, 'Cancel'), h('button', { type: 'submit', class: 'danger' }, confirmLabel)),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      close(field.value);
    });
    dialog.addEventListener('cancel', () => close(undefined));
    document.body.append(dialog);
    dialog.showModal();
  });
}
