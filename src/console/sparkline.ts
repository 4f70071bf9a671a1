/**
 * Sparklines and bars as inline SVG built with createElementNS: geometry in attributes, colours in
 * style.css classes, so the strict policy (no inline style, no inline script) holds.
 */
const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, ...children: Array<SVGElement | string>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

const WIDTH = 120;
const HEIGHT = 28;
const PAD = 2;

/**
 * A sparkline of `values` (null: nothing measured in that bucket, a gap). `data-last` carries the
 * last bucket's value, `data-values` all of them, for tests and for anyone reading the page.
 */
export function sparkline(values: Array<number | null>, label: string): SVGSVGElement {
  const known = values.filter((v): v is number => v !== null);
  const max = Math.max(0, ...known);
  const x = (i: number) => PAD + (values.length > 1 ? (i * (WIDTH - 2 * PAD)) / (values.length - 1) : 0);
  const y = (v: number) => HEIGHT - PAD - (max > 0 ? (v * (HEIGHT - 2 * PAD)) / max : 0);
  // One polyline per run of measured buckets, so a gap stays a gap.
  const runs: string[][] = [];
  let run: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length > 0) runs.push(run);
  const last = values.at(-1) ?? null;
  const summary = `${label}: ${known.length === 0 ? 'nothing measured' : `latest ${last ?? '—'}, highest ${max}`}`;
  return svg(
    'svg',
    { class: 'sparkline', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: 'img', 'aria-label': summary, 'data-last': last ?? '', 'data-values': values.map((v) => v ?? '').join(',') },
    svg('title', {}, summary),
    svg('line', { class: 'baseline', x1: PAD, x2: WIDTH - PAD, y1: HEIGHT - PAD, y2: HEIGHT - PAD }),
    ...runs.map((points) => (points.length === 1 ? svg('circle', { class: 'point', cx: points[0]!.split(',')[0]!, cy: points[0]!.split(',')[1]!, r: 1.5 }) : svg('polyline', { class: 'line', points: points.join(' ') }))),
    ...(last !== null ? [svg('circle', { class: 'last', cx: x(values.length - 1).toFixed(1), cy: y(last).toFixed(1), r: 2 })] : []),
  );
}

/** A horizontal bar of `share` (0..1, clamped), e.g. a quota's use; `tone` names a CSS class. */
export function bar(share: number, label: string, tone: string): SVGSVGElement {
  const width = 160;
  const filled = Math.max(0, Math.min(1, share)) * width;
  return svg(
    'svg',
    { class: `bar ${tone}`, viewBox: `0 0 ${width} 10`, width, height: 10, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('rect', { class: 'track', x: 0, y: 0, width, height: 10, rx: 3 }),
    svg('rect', { class: 'fill', x: 0, y: 0, width: filled.toFixed(1), height: 10, rx: 3 }),
  );
}
