package cgw.tools.tls;

import cgw.host.TrustedCa;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's TLS material in {@code DATA/tls/}, in the file layout of qemu's
 * {@code tls-creds-x509} (and GnuTLS clients such as nbdinfo's {@code tls-certificates=}):
 *
 * <pre>
 *   ca-cert.pem      the gateway's own CA; clients trust it
 *   ca-key.pem       its key (0600), to issue more client certificates
 *   server-cert.pem  the gateway's certificate: localhost, loopback addresses, the listen host
 *   server-key.pem   (0600)
 *   client-cert.pem  a client certificate for local tools: point qemu or nbdinfo at this folder
 *   client-key.pem   (0600)
 * </pre>
 *
 * Created on first use with Bouncy Castle (RSA 3072, SHA-256, ten years); existing files are kept.
 * Clients must present a certificate issued by the CA, as qemu's servers require by default.
 */
public final class TlsMaterial {
    private static final Logger log = LoggerFactory.getLogger(TlsMaterial.class);
    private static final Duration VALIDITY = Duration.ofDays(3650);
    private static final String SIGNATURE = "SHA256withRSA";
    /** The CN of the client certificate made with the material, for local tools. */
    public static final String DEFAULT_CLIENT = "cgw-client";

    private final Path dir;

    private TlsMaterial(Path dir) {
        this.dir = dir;
    }

    /**
     * The material in {@code dir}, created when missing. {@code hosts} are names and addresses the
     * server certificate must also be valid for, beyond localhost and the loopback addresses.
     */
    public static TlsMaterial ensure(Path dir, Collection<String> hosts) {
        TlsMaterial material = new TlsMaterial(dir);
        if (!Files.exists(dir.resolve("server-cert.pem"))) {
            material.create(hosts);
        }
        return material;
    }

    public Path directory() {
        return dir;
    }

    /** A server context that requires a client certificate issued by the gateway's CA. */
    public SslContext serverContext() {
        Path ca = dir.resolve("ca-cert.pem");
        try {
            return SslContextBuilder
                    .forServer(dir.resolve("server-cert.pem").toFile(), dir.resolve("server-key.pem").toFile())
                    .trustManager(UnnamedIssuers.of(TrustedCa.trustManagers(Files.readAllBytes(ca), ca.toString())))
                    .clientAuth(ClientAuth.REQUIRE)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load TLS material from " + dir, e);
        }
    }

    /** An HTTPS server context: the REST API authenticates clients by token, not certificate. */
    public SslContext httpsContext() {
        try {
            return SslContextBuilder
                    .forServer(dir.resolve("server-cert.pem").toFile(), dir.resolve("server-key.pem").toFile())
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load TLS material from " + dir, e);
        }
    }

    /**
     * The material already in {@code dir}, for issuing client certificates.
     *
     * @throws IllegalStateException when the gateway has not made it yet
     */
    public static TlsMaterial existing(Path dir) {
        if (!Files.exists(dir.resolve("server-cert.pem")) || !Files.exists(dir.resolve("ca-key.pem"))) {
            throw new IllegalStateException("no TLS material in " + dir + ": start 'cgw serve --tls' once to make it");
        }
        return new TlsMaterial(dir);
    }

    /**
     * Writes a client certificate for {@code name} (its subject's CN, which volumes' {@code clients}
     * lists name), its key and the CA certificate into {@code out}, in qemu's client layout
     * ({@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem} 0600).
     *
     * @throws IllegalStateException when {@code out} already holds a client certificate
     */
    public void issueClient(String name, Path out) {
        TlsMaterial target = new TlsMaterial(out);
        if (Files.exists(out.resolve("client-cert.pem")) || Files.exists(out.resolve("client-key.pem"))) {
            throw new IllegalStateException(out + " already holds a client certificate; choose another --out");
        }
        try {
            Files.createDirectories(out);
            X509Certificate ca = readCertificate(dir.resolve("ca-cert.pem"));
            PrivateKey caKey = readKey(dir.resolve("ca-key.pem"));
            KeyPair caKeys = new KeyPair(ca.getPublicKey(), caKey);
            SecureRandom random = new SecureRandom();
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(3072, random);
            KeyPair clientKeys = generator.generateKeyPair();
            X500Name caName = X500Name.getInstance(ca.getSubjectX500Principal().getEncoded());
            X500Name subject = new X500NameBuilder().addRDN(BCStyle.CN, name).build();
            X509Certificate client = sign(leaf(caName, ca, caKeys, clientKeys, subject, Instant.now(), random)
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth)),
                    caKey);
            target.writeSecret("client-key.pem", clientKeys.getPrivate());
            target.writePublic("client-cert.pem", client);
            target.writePublic("ca-cert.pem", ca);
            log.info("issued a client certificate for '{}' into {}", name, out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a client certificate into " + out, e);
        } catch (java.security.GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot issue a client certificate: " + e.getMessage(), e);
        }
    }

    private static X509Certificate readCertificate(Path file) throws IOException, CertificateException {
        try (PEMParser parser = new PEMParser(Files.newBufferedReader(file, StandardCharsets.US_ASCII))) {
            if (!(parser.readObject() instanceof X509CertificateHolder holder)) {
                throw new IOException(file + " holds no certificate");
            }
            return new JcaX509CertificateConverter().getCertificate(holder);
        }
    }

    private static PrivateKey readKey(Path file) throws IOException {
        try (PEMParser parser = new PEMParser(Files.newBufferedReader(file, StandardCharsets.US_ASCII))) {
            if (!(parser.readObject() instanceof PrivateKeyInfo info)) {
                throw new IOException(file + " holds no unencrypted PKCS#8 key");
            }
            return new JcaPEMKeyConverter().getPrivateKey(info);
        }
    }

    private void create(Collection<String> hosts) {
        try {
            Files.createDirectories(dir);
            SecureRandom random = new SecureRandom();
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(3072, random);
            Instant now = Instant.now();

            KeyPair caKeys = generator.generateKeyPair();
            X500Name caName = new X500Name("CN=cgw gateway CA");
            X509Certificate ca = sign(new JcaX509v3CertificateBuilder(caName, serial(random), start(now), end(now),
                    caName, caKeys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false,
                            new JcaX509ExtensionUtils().createSubjectKeyIdentifier(caKeys.getPublic())),
                    caKeys.getPrivate());

            KeyPair serverKeys = generator.generateKeyPair();
            X509Certificate server = sign(
                    leaf(caName, ca, caKeys, serverKeys, new X500Name("CN=localhost"), now, random)
                            .addExtension(Extension.extendedKeyUsage, false,
                                    new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                            .addExtension(Extension.subjectAlternativeName, false, subjectAltNames(hosts)),
                    caKeys.getPrivate());

            KeyPair clientKeys = generator.generateKeyPair();
            X509Certificate client = sign(
                    leaf(caName, ca, caKeys, clientKeys, new X500Name("CN=" + DEFAULT_CLIENT), now, random)
                            .addExtension(Extension.extendedKeyUsage, false,
                                    new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth)),
                    caKeys.getPrivate());

            writePublic("ca-cert.pem", ca);
            writeSecret("ca-key.pem", caKeys.getPrivate());
            writeSecret("server-key.pem", serverKeys.getPrivate());
            writePublic("client-cert.pem", client);
            writeSecret("client-key.pem", clientKeys.getPrivate());
            writePublic("server-cert.pem", server); // last: its presence means the set is complete
            log.info("created TLS material in {}", dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create TLS material in " + dir, e);
        } catch (java.security.GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot create TLS material: " + e.getMessage(), e);
        }
    }

    private static JcaX509v3CertificateBuilder leaf(X500Name caName, X509Certificate ca, KeyPair caKeys, KeyPair keys,
            X500Name subject, Instant now, SecureRandom random)
            throws java.security.GeneralSecurityException, IOException {
        JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(caName, serial(random), start(now),
                end(now),
                subject, keys.getPublic());
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true,
                        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                .addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(keys.getPublic()))
                .addExtension(Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(ca));
        return builder;
    }

    private static GeneralNames subjectAltNames(Collection<String> hosts) {
        LinkedHashSet<String> all = new LinkedHashSet<>(List.of("localhost", "127.0.0.1", "::1"));
        all.addAll(hosts);
        List<GeneralName> names = new ArrayList<>();
        for (String host : all) {
            if (host.isEmpty() || host.equals("0.0.0.0") || host.equals("::")) {
                continue;
            }
            boolean address = host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')
                    && (host.contains(".") || host.contains(":"));
            names.add(new GeneralName(address ? GeneralName.iPAddress : GeneralName.dNSName, host));
        }
        try {
            String local = InetAddress.getLocalHost().getHostName();
            if (!all.contains(local)) {
                names.add(new GeneralName(GeneralName.dNSName, local));
            }
        } catch (UnknownHostException e) {
            log.debug("no local host name for the TLS certificate", e);
        }
        return new GeneralNames(names.toArray(new GeneralName[0]));
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
            throws OperatorCreationException, java.security.cert.CertificateException {
        ContentSigner signer = new JcaContentSignerBuilder(SIGNATURE).build(key);
        X509CertificateHolder holder = builder.build(signer);
        return new JcaX509CertificateConverter().getCertificate(holder);
    }

    private static BigInteger serial(SecureRandom random) {
        return new BigInteger(127, random).add(BigInteger.ONE);
    }

    private static Date start(Instant now) {
        return Date.from(now.minus(Duration.ofHours(1)));
    }

    private static Date end(Instant now) {
        return Date.from(now.plus(VALIDITY));
    }

    private void writePublic(String name, Object pem) throws IOException {
        write(name, pem(pem), "rw-r--r--");
    }

    private void writeSecret(String name, PrivateKey key) throws IOException {
        write(name, pem(new JcaPKCS8Generator(key, null).generate()), "rw-------");
    }

    /** Writes through a temporary file created with its final permissions, then renames. */
    private void write(String name, String content, String permissions) throws IOException {
        Path target = dir.resolve(name);
        Path temporary = dir.resolve(name + ".tmp");
        Files.deleteIfExists(temporary);
        try {
            Files.createFile(temporary,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions)));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("a concurrent writer is creating " + temporary, e);
        }
        Files.writeString(temporary, content, StandardCharsets.US_ASCII);
        Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static String pem(Object object) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        }
        return text.toString();
    }
}
