/** What the machine gives the gateway, apart from storage, NBD and HTTP: libc, threads, pacing, waits for work in flight. */
package cgw.host;
