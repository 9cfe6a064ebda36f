/** The group barrier: epoch gates on every volume's I/O, the two-phase cut across a group, and its snapshot catalog. */
package cgw.barrier;
