//! Reading the live schema: which tables and columns exist.
//!
//! Used to check mappings against the database before anything runs, by coverage checks that
//! look for personal data no handler covers, and by the test kit's residue scanner.

pub use crate::backend::catalog::{ColumnInfo, ForeignKeyInfo};

/// Runs a DDL script of `;`-separated statements (no `;` inside a statement), one statement at
/// a time: how the library's own tables are installed.
///
/// # Errors
///
/// The first statement that fails; those before it stay applied (DDL is not transactional on
/// MySQL), so scripts are written to be run again (`CREATE … IF NOT EXISTS`).
pub async fn run_script<DB: crate::Backend>(
    conn: &mut DB::Connection,
    script: &'static str,
) -> Result<(), sqlx::Error> {
    for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        DB::execute(conn, &crate::sql::Sql::new(statement)).await?;
    }
    Ok(())
}
