// Restored views read restored tables: which references are rewritten, and which are left alone.
import { expect } from 'chai';
import { rewriteViewQuery } from '../src/view-rewrite.js';

const rewrite = {
  sourceProject: 'prod-1',
  targetProject: 'dev-2',
  datasetMap: { sales: 'restored_sales', analytics: 'restored_analytics' },
};

describe('view query rewrite', function () {
  it('rewrites quoted paths with and without the project, quoted whole or part by part', function () {
    expect(rewriteViewQuery('SELECT * FROM `prod-1.sales.orders`', rewrite)).to.equal(
      'SELECT * FROM `dev-2.restored_sales.orders`',
    );
    expect(
      rewriteViewQuery('SELECT * FROM `sales.orders` o JOIN `analytics.events` e ON o.id = e.id', rewrite),
    ).to.equal('SELECT * FROM `restored_sales.orders` o JOIN `restored_analytics.events` e ON o.id = e.id');
    expect(rewriteViewQuery('SELECT 1 FROM `prod-1`.`sales`.`orders`', rewrite)).to.equal(
      'SELECT 1 FROM `dev-2`.`restored_sales`.`orders`',
    );
  });

  it('rewrites unquoted references after FROM and JOIN, but not alias.column elsewhere', function () {
    expect(
      rewriteViewQuery(
        'select sales.amount from sales.orders as sales join analytics.events e on true',
        rewrite,
      ),
    ).to.equal(
      'select sales.amount from restored_sales.orders as sales join restored_analytics.events e on true',
    );
  });

  it("leaves other projects' and other datasets' tables alone", function () {
    const query =
      'SELECT * FROM `other.sales.orders` JOIN `prod-1.hr.people` USING (id) JOIN `hr.x` USING (id)';
    expect(rewriteViewQuery(query, rewrite)).to.equal(query);
  });

  it('rewrites legacy SQL references', function () {
    expect(rewriteViewQuery('SELECT a FROM [prod-1:sales.orders]', rewrite)).to.equal(
      'SELECT a FROM [dev-2:restored_sales.orders]',
    );
  });
});
