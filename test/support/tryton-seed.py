# Seeds a freshly initialised Tryton 6.0 database for Syncline's tests, through proteus and
# Tryton's own test tools (the helpers its modules' scenarios use). Run with /usr/bin/python3:
#   tryton-seed.py <trytond.conf> <database>
# Prints one JSON line with the ids the tests need.
import datetime
import json
import sys
from decimal import Decimal

from proteus import Model, config

# The modules' tests/__init__ would import trytond.tests.test_tryton, which switches the pool to
# test mode: register the tests packages as plain namespaces so that only their tools.py load.
import importlib.util
import types
import trytond.modules
for module in ('currency', 'company', 'account', 'account_invoice'):
    package = types.ModuleType(f'trytond.modules.{module}.tests')
    package.__path__ = [f'{trytond.modules.__path__[0]}/{module}/tests']
    sys.modules[package.__name__] = package

from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, create_tax, get_accounts
from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
from trytond.modules.company.tests.tools import create_company, get_company

conf, database = sys.argv[1], sys.argv[2]
config.set_trytond(database=database, config_file=conf)

Party = Model.get('party.party')
create_company(party=Party(name='Syncline Test Retail'))
company = get_company()

# Fiscal year with its post-move and invoice sequences, and monthly periods.
fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company))
fiscalyear.click('create_period')

# The minimal English chart, with default receivable and payable accounts.
create_chart(company)
accounts = get_accounts(company)

tax = create_tax(Decimal('.10'))
tax.name = tax.description = 'Sales tax 10%'
tax.save()

PaymentTerm = Model.get('account.invoice.payment_term')
direct = PaymentTerm(name='Direct')
direct.lines.new(type='remainder')
direct.save()
net30 = PaymentTerm(name='Net 30')
line = net30.lines.new(type='remainder')
line.relativedeltas.new(days=30)
net30.save()

Category = Model.get('product.category')
category = Category(name='Retail goods', accounting=True)
category.account_revenue = accounts['revenue']
category.account_expense = accounts['expense']
category.customer_taxes.append(tax)
category.save()

Uom = Model.get('product.uom')
unit, = Uom.find([('name', '=', 'Unit')])
Template = Model.get('product.template')
Location = Model.get('stock.location')
warehouse, = Location.find([('type', '=', 'warehouse')])
storage, = Location.find([('code', '=', 'STO')])
supplier, = Location.find([('code', '=', 'SUP')])
customer_location, = Location.find([('code', '=', 'CUS')])
Move = Model.get('stock.move')

products = {}
# code, name, type, list price, stock on hand
for code, name, kind, price, stock in [
    ('RP-WIDGET-001', 'Widget', 'goods', '25.00', 100),
    ('SKU-RED', 'Red mug', 'goods', '25.00', 1000),
    ('SKU-BLUE', 'Blue mug', 'goods', '10.00', 5),
    ('SKU-GREEN', 'Green mug', 'goods', '12.50', 0),
    ('SHIP', 'Shipping', 'service', '0', 0),
    ('DISC', 'Discount', 'service', '0', 0),
    ('FEE', 'Handling fee', 'service', '0', 0),
    # The order flows' SKUs (test/support/flows.ts FLOW_SKUS); CAP has no ERP stock.
    ('TEE-M', 'T-shirt M', 'goods', '19.99', 1000),
    ('MUG', 'Mug', 'goods', '8.50', 1000),
    ('CAP', 'Cap', 'goods', '15.00', 0),
    ('SOCKS', 'Socks', 'goods', '5.00', 1000),
]:
    template = Template(name=name, type=kind, default_uom=unit, list_price=Decimal(price), salable=True, account_category=category)
    template.save()
    product, = template.products
    # Tryton 6.0: a variant's code is the template's prefix + its suffix code.
    product.suffix_code = code
    product.save()
    products[code] = product.id
    if stock:
        move = Move(product=product, uom=unit, quantity=stock, from_location=supplier, to_location=storage,
                    unit_price=Decimal(price), currency=company.currency, effective_date=datetime.date.today())
        move.save()
        Move.click([move], 'do')

Mechanism = Model.get('party.contact_mechanism')
customer = Party(name='Acme Retail Customer')
customer.contact_mechanisms.new(type='email', value='acme@example.com')
address = customer.addresses[0] if customer.addresses else customer.addresses.new()
address.street = '1 Market Street'
address.postal_code = '10001'
address.city = 'New York'
customer.save()

print(json.dumps({
    'company': company.id,
    'currency': company.currency.id,
    'warehouse': warehouse.id,
    'storage': storage.id,
    'customerLocation': customer_location.id,
    'tax': tax.id,
    'paymentTerms': {'direct': direct.id, 'net30': net30.id},
    'products': products,
    'customer': customer.id,
}))
