/** Crash test of the store: a child JVM writes until SIGKILL, the test checks what recovery brings back. */
package cgw.store.crash;
