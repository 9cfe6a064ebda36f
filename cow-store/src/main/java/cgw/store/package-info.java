/** Copy-on-write block store on RocksDB: volumes, versioned blocks, epochs, clones, garbage collection. */
package cgw.store;
