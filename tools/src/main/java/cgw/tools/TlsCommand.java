package cgw.tools;

import cgw.cli.CliException;
import cgw.store.Names;
import cgw.tools.tls.TlsMaterial;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cgw tls client NAME --out DIR}: issues a client certificate from the gateway's CA in
 * {@code DATA/tls/}, for a volume's {@code clients} list to name. Runs on the gateway's host, with
 * read access to the CA key; needs no running gateway.
 */
@Command(name = "tls", description = "TLS material for NBD clients.", subcommands = TlsCommand.Client.class)
final class TlsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing subcommand (try 'cgw tls client NAME --out DIR')");
    }

    @Command(name = "client", description = {"Write a client certificate named NAME, its key and the CA",
            "certificate into DIR, in qemu's tls-creds-x509 client layout."})
    static final class Client implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "NAME", description = "The certificate's name (its CN), as volumes' \"clients\" lists name it")
        String name;

        @Option(names = "--out", paramLabel = "DIR", required = true, description = "Where to write ca-cert.pem, client-cert.pem and client-key.pem (0600)")
        Path out;

        @Option(names = "--data", paramLabel = "DIR", defaultValue = "./cgw-data", description = "The gateway's data directory, whose tls/ holds the CA (default: ${DEFAULT-VALUE})")
        Path dataDir;

        @Override
        public Integer call() {
            if (!Names.isValid(name)) {
                throw new ParameterException(spec.commandLine(), Names.refusal("client", name));
            }
            try {
                TlsMaterial.existing(dataDir.resolve("tls")).issueClient(name, out);
            } catch (IllegalStateException | UncheckedIOException e) {
                throw new CliException(e.getMessage(), e);
            }
            spec.commandLine().getOut().println("client certificate for '" + name + "' in " + out);
            return 0;
        }
    }
}
