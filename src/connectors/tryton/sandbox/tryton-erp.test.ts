import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrytonDecimal } from '../tryton-wire.ts';
import { INTERNAL_LOCATIONS, LOCATION, TrytonUserWarning, type Rec } from './tryton-data.ts';
import { TrytonErp } from './tryton-erp.ts';

// The ERP keeps indexes and each product's planned stock as it goes (tryton-indexes.ts); these
// tests hold them to what a scan of every record gives, through the whole sale and shipment workflow.

const WAREHOUSE = { locations: [LOCATION.warehouse] };
const never = () => false;

/** The forecast as a scan of every move computes it: stock on hand plus what moves not done nor cancelled will add or take. */
function scannedForecast(erp: TrytonErp, product: Rec): number {
  let delta = 0;
  for (const move of erp.table('stock.move').values()) {
    if (move.product !== product.id || move.state === 'done' || move.state === 'cancelled') continue;
    const from = INTERNAL_LOCATIONS.has(move.from_location as number);
    const to = INTERNAL_LOCATIONS.has(move.to_location as number);
    if (from && !to) delta -= Number(move.quantity);
    if (!from && to) delta += Number(move.quantity);
  }
  return Number(product.on_hand) + delta;
}

/** Every product's forecast, every sale's moves and invoices: as kept, and as scanned. */
function assertKeptAsScanned(erp: TrytonErp, step: string): void {
  for (const product of erp.table('product.product').values()) {
    if (product.type !== 'goods') continue;
    assert.equal(erp.view('product.product', product, WAREHOUSE).forecast_quantity, scannedForecast(erp, product), `${step}: forecast of ${String(product.code)}`);
  }
  for (const sale of erp.table('sale.sale').values()) {
    const view = erp.view('sale.sale', sale, {});
    const lines = new Set((sale.lines as number[]).map((id) => `sale.line,${id}`));
    const moves = [...erp.table('stock.move').values()].filter((m) => lines.has(String(m.origin))).map((m) => m.id);
    const invoices = [...erp.table('account.invoice').values()].filter((i) => i.sale_origin === sale.id).map((i) => i.id);
    assert.deepEqual(view.moves, moves, `${step}: moves of sale ${sale.id}`);
    assert.deepEqual(view.invoices, invoices, `${step}: invoices of sale ${sale.id}`);
  }
}

function newSale(erp: TrytonErp, party: number, reference: string, lines: [Rec, number][]): number {
  const [id] = erp.create('sale.sale', [
    {
      party,
      reference,
      lines: [['create', lines.map(([product, quantity]) => ({ type: 'line', product: product.id, quantity, unit: 1, unit_price: new TrytonDecimal('10.00') }))]],
    },
  ]);
  return id!;
}

test('planned stock, sale moves and invoices stay what a scan gives through sales, returns, shipments and cancellations', () => {
  const erp = new TrytonErp();
  const [mug, tee] = erp.seedProducts([
    { code: 'MUG', listPrice: '10.00', quantity: 100 },
    { code: 'TEE', listPrice: '10.00', quantity: 5 },
  ]) as [Rec, Rec];
  const [party] = erp.create('party.party', [{ name: 'Ada' }]);
  assertKeptAsScanned(erp, 'seeded');

  const first = newSale(erp, party!, 'ord-1', [[mug, 3], [tee, 4]]);
  erp.quote([first], never);
  erp.confirm([first], never);
  assertKeptAsScanned(erp, 'first sale confirmed');
  assert.equal(erp.view('product.product', tee, WAREHOUSE).forecast_quantity, 1);

  // The forecast the quote checks is the kept one: 1 TEE left for 2 asked.
  const second = newSale(erp, party!, 'ord-2', [[tee, 2], [mug, -1]]);
  assert.throws(() => erp.quote([second], never), TrytonUserWarning);
  erp.quote([second], () => true);
  erp.confirm([second], () => true);
  assertKeptAsScanned(erp, 'second sale (with a return line) confirmed');

  const shipmentOf = (sale: number) => (erp.view('sale.sale', erp.get('sale.sale', sale), {}).shipments as number[])[0]!;
  const firstShipment = shipmentOf(first);
  const outgoing = erp.get('stock.shipment.out', firstShipment).outgoing_moves as number[];
  erp.write('stock.move', [outgoing[0]!], { quantity: 2 });
  assertKeptAsScanned(erp, 'outgoing move lowered');
  assert.equal(erp.assignTry([firstShipment]), true);
  assertKeptAsScanned(erp, 'assigned');
  erp.pick([firstShipment]);
  erp.pack([firstShipment]);
  assertKeptAsScanned(erp, 'packed');
  erp.done([firstShipment]);
  assertKeptAsScanned(erp, 'shipped');
  const returned = (erp.view('sale.sale', erp.get('sale.sale', second), {}).shipment_returns as number[])[0]!;
  erp.receiveReturn([returned]);
  assertKeptAsScanned(erp, 'return received');
  erp.doneReturn([returned]);
  assertKeptAsScanned(erp, 'return done');

  // Shipped short: the inventory move lowered before packing, the outgoing one follows and is done with less.
  const fourth = newSale(erp, party!, 'ord-4', [[mug, 5]]);
  erp.quote([fourth], never);
  erp.confirm([fourth], never);
  const fourthShipment = shipmentOf(fourth);
  erp.write('stock.move', erp.get('stock.shipment.out', fourthShipment).inventory_moves as number[], { quantity: 3 });
  erp.assignTry([fourthShipment]);
  erp.pick([fourthShipment]);
  erp.pack([fourthShipment]);
  assertKeptAsScanned(erp, 'packed short');
  erp.done([fourthShipment]);
  assertKeptAsScanned(erp, 'shipped short, the rest planned again');
  const rest = (erp.view('sale.sale', erp.get('sale.sale', fourth), {}).shipments as number[]).at(-1)!;
  assert.notEqual(rest, fourthShipment);
  erp.cancelShipment([rest]);
  assertKeptAsScanned(erp, 'the rest cancelled');

  // A fractional quantity: the kept sum gives way to a fresh one, then comes back when the move is cancelled.
  const fractional = newSale(erp, party!, 'ord-5', [[mug, 1.5]]);
  erp.quote([fractional], never);
  erp.confirm([fractional], never);
  assertKeptAsScanned(erp, 'fractional sale confirmed');
  erp.cancelShipment([shipmentOf(fractional)]);
  assertKeptAsScanned(erp, 'fractional shipment cancelled');
});

test('a sale is found by its reference among many, whatever the reference\'s type', () => {
  const erp = new TrytonErp();
  const [mug] = erp.seedProducts([{ code: 'MUG', listPrice: '10.00', quantity: 1000 }]) as [Rec];
  const [party] = erp.create('party.party', [{ name: 'Ada' }]);
  for (let i = 0; i < 50; i++) newSale(erp, party!, `ord-${i}`, [[mug, 1]]);
  const [numeric] = erp.create('sale.sale', [{ party, reference: 42, lines: [] }]);
  const [none] = erp.create('sale.sale', [{ party, lines: [] }]);
  const ids = (value: string | number) => erp.candidates('sale.sale', 'reference', value)!.map((s) => s.id);
  assert.deepEqual(ids('ord-7'), [8]);
  // "=" compares by text: 42 and "42" are the same reference.
  assert.deepEqual(ids('42'), [numeric]);
  assert.deepEqual(ids(42), [numeric]);
  assert.ok(ids('').includes(none!));
  assert.deepEqual(ids('nowhere'), []);
  assert.equal(erp.candidates('sale.sale', 'description', 'x'), undefined);
});
