//! [`Seed::insert`]: writes the generated rows into a database, in transactions of a few
//! hundred customers.

use std::ops::Range;

use erasure_core::transaction::{Isolation, Tx};
use erasure_core::{Backend, DatabaseError, Value};
use sqlx::Pool;

use super::tables::Tables;
use super::{CAMPAIGNS, Seed, SeedSummary};

/// Customers (and guests) per transaction.
const CHUNK: u64 = 200;

/// Rows buffered before they are written, inside a transaction.
const BUFFERED: usize = 5_000;

impl Seed {
    /// Writes every customer and guest into the reference schema through `pool`, in
    /// transactions of `chunk` customers, brings MySQL's table statistics up to date, and
    /// returns how many rows went into each table.
    ///
    /// # Errors
    ///
    /// The first statement that fails.
    pub async fn insert<DB: Backend>(&self, pool: &Pool<DB>) -> Result<SeedSummary, sqlx::Error> {
        let mut tables = Tables::new();
        let total = self.config.customers + self.config.guests;
        // Shared campaign codes come first: usages refer to them.
        let mut conn = pool.acquire().await?;
        self.campaign_codes(&mut tables);
        tables.flush::<DB>(&mut conn).await?;
        let mut start = 0;
        while start < total {
            let end = (start + CHUNK).min(total);
            let mut tx = Tx::<DB>::begin(&mut conn, Isolation::Write)
                .await
                .map_err(DatabaseError::into_sqlx)?;
            let written = self
                .write_people::<DB>(&mut tx, start..end, &mut tables)
                .await;
            tx.settle(written).await.map_err(|f| {
                if f.is_in_doubt() {
                    conn.close_on_drop();
                }
                f.into_error_with(DatabaseError::into_sqlx)
            })?;
            start = end;
        }
        tables.analyze::<DB>(&mut conn).await?;
        Ok(tables.summary())
    }

    /// The shared campaign promotion codes, ids `1..=CAMPAIGNS`.
    fn campaign_codes(&self, tables: &mut Tables) {
        for c in 1..=CAMPAIGNS {
            tables.promotion_codes.row([
                c.into(),
                format!("CAMPAIGN-{c:03}").into(),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                (5 + c % 4 * 5).into(),
                Value::Null,
                self.config.now.into(),
            ]);
        }
    }

    /// Generates the people at `indexes` (customers, then guests) and writes their rows in
    /// `tx`, whenever more than [`BUFFERED`] rows wait and at the end. Stops at the first
    /// failure.
    async fn write_people<DB: Backend>(
        &self,
        tx: &mut DB::Connection,
        indexes: Range<u64>,
        tables: &mut Tables,
    ) -> Result<(), sqlx::Error> {
        for index in indexes {
            let person = if index < self.config.customers {
                self.customer(index)
            } else {
                self.person(index, true)
            };
            self.rows(&person, tables);
            if tables.buffered() > BUFFERED {
                tables.flush::<DB>(tx).await?;
            }
        }
        tables.flush::<DB>(tx).await
    }
}
