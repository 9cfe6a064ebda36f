/** JMH benchmarks of the block store API, each run beside a peer (a plain file) and reported as a ratio. */
package cgw.bench;
