/**
 * PostgreSQL with its WAL and its data on two cgw volumes, attached as a user without a kernel nbd
 * module would (nbdfuse, loop, ext4): group snapshots taken under pgbench must recover consistently,
 * and copies taken one after the other must be caught as inconsistent.
 */
package cgw.tests.pg;
