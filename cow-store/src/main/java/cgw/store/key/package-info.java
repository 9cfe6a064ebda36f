/** Byte layouts of the store's RocksDB keys and values. */
package cgw.store.key;
