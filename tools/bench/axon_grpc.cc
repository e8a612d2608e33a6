// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * make bench-axon, the gRPC row: gRPC C++ (Debian's libgrpc++-dev 1.51)
 * unary calls over TCP + TLS between the same two network namespaces as
 * axon_bench, for the goal "faster than gRPC over TCP+TLS at 64 B".
 *
 *   axon_grpc server ADDR PORT CERT_PEM    echo server; writes its
 *                                          self-signed certificate to
 *                                          CERT_PEM, then prints "ready"
 *   axon_grpc client ADDR PORT CERT_PEM [-n N] [-r ROUNDS]
 *
 * The method /cell.bench.Echo/Call carries raw bytes (grpc::ByteBuffer)
 * through the generic API on both sides (the server is grpc_echo.h's, as
 * tools/bench/ipc_grpc.cc's over a unix socket): no protobuf
 * serialization, so the figures are gRPC's transport at its cheapest.
 * The key is ECDSA P-256 made with GnuTLS at
 * start; the client pins that certificate as its only root (name "bench").
 * One call at a time: N echoes per size and round after N/10 of warm-up;
 * the client prints p50/p99 per size, medians over rounds, in the layout
 * axon_bench.sh reads ("grpc-tls SIZE p50 P99").
 */
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "grpc_echo.h"

namespace
{

[[noreturn]] void die(const std::string &what)
{
	fprintf(stderr, "axon_grpc: %s\n", what.c_str());
	exit(1);
}

std::string pem(int (*exp)(void *, gnutls_x509_crt_fmt_t, gnutls_datum_t *), void *obj)
{
	gnutls_datum_t d;

	if (exp(obj, GNUTLS_X509_FMT_PEM, &d))
		die("PEM export");
	std::string s(reinterpret_cast<char *>(d.data), d.size);
	gnutls_free(d.data);
	return s;
}

int crt_export(void *c, gnutls_x509_crt_fmt_t f, gnutls_datum_t *d)
{
	return gnutls_x509_crt_export2(static_cast<gnutls_x509_crt_t>(c), f, d);
}

int key_export(void *k, gnutls_x509_crt_fmt_t f, gnutls_datum_t *d)
{
	return gnutls_x509_privkey_export2_pkcs8(static_cast<gnutls_x509_privkey_t>(k), f,
						 nullptr, GNUTLS_PKCS_PLAIN, d);
}

/* A self-signed certificate for "bench": (certificate PEM, key PEM). */
std::pair<std::string, std::string> self_signed()
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	unsigned char serial[8] = { 1 };
	time_t t = time(nullptr);

	if (gnutls_x509_privkey_init(&key) ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) ||
	    gnutls_x509_crt_init(&crt) || gnutls_x509_crt_set_version(crt, 3) ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) ||
	    gnutls_x509_crt_set_activation_time(crt, t - 3600) ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 86400) ||
	    gnutls_x509_crt_set_key(crt, key) ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "bench", 5) ||
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "bench", 5,
						 GNUTLS_FSAN_SET) ||
	    gnutls_x509_crt_set_basic_constraints(crt, 1, -1) ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
						       GNUTLS_KEY_KEY_CERT_SIGN) ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0))
		die("self-signed certificate");
	auto r = std::make_pair(pem(crt_export, crt), pem(key_export, key));
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return r;
}

int server(const std::string &target, const char *cert_file)
{
	auto kc = self_signed();
	grpc::SslServerCredentialsOptions o;
	grpc_echo::Service svc;
	grpc::ServerBuilder b;

	o.pem_key_cert_pairs.push_back({ kc.second, kc.first });
	b.AddListeningPort(target, grpc::SslServerCredentials(o));
	b.RegisterCallbackGenericService(&svc);
	b.SetMaxReceiveMessageSize(-1);
	b.SetMaxSendMessageSize(-1);
	std::unique_ptr<grpc::Server> srv = b.BuildAndStart();
	if (!srv)
		die("server on " + target + " did not start");
	std::string tmp = std::string(cert_file) + ".tmp";
	std::ofstream(tmp) << kc.first;
	if (rename(tmp.c_str(), cert_file))
		die("rename " + tmp);
	printf("ready\n");
	fflush(stdout);
	srv->Wait(); /* until killed */
	return 0;
}

double pct(std::vector<double> v, double p)
{
	std::sort(v.begin(), v.end());
	return v[static_cast<size_t>(static_cast<double>(v.size() - 1) * p)];
}

double median(std::vector<double> v)
{
	return pct(std::move(v), 0.5);
}

/* One unary echo of @buf; false on any failure or a wrong answer. */
bool echo(grpc::GenericStub &stub, grpc::CompletionQueue &cq, const std::vector<char> &buf)
{
	grpc::ClientContext ctx;
	grpc::Slice slice(buf.data(), buf.size());
	grpc::ByteBuffer req(&slice, 1), resp;
	grpc::Status st;
	std::vector<grpc::Slice> parts;
	void *tag;
	bool ok;
	size_t len = 0;

	ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
	auto rpc = stub.PrepareUnaryCall(&ctx, grpc_echo::kMethod, req, &cq);
	rpc->StartCall();
	rpc->Finish(&resp, &st, reinterpret_cast<void *>(1));
	if (!cq.Next(&tag, &ok) || !ok || !st.ok()) {
		fprintf(stderr, "axon_grpc: call: %d %s\n", static_cast<int>(st.error_code()),
			st.error_message().c_str());
		return false;
	}
	if (!resp.Dump(&parts).ok())
		return false;
	for (const grpc::Slice &s : parts) {
		if (len + s.size() > buf.size() || memcmp(buf.data() + len, s.begin(), s.size()))
			return false;
		len += s.size();
	}
	return len == buf.size();
}

int client(const std::string &target, const char *cert_file, int iters, int rounds)
{
	static const size_t sizes[2] = { 64, 65536 };
	std::vector<double> p50[2], p99[2];
	std::stringstream cert;
	grpc::SslCredentialsOptions o;
	grpc::ChannelArguments args;

	cert << std::ifstream(cert_file).rdbuf();
	o.pem_root_certs = cert.str();
	if (o.pem_root_certs.empty())
		die(std::string("no certificate in ") + cert_file);
	args.SetSslTargetNameOverride("bench");
	args.SetMaxReceiveMessageSize(-1);
	args.SetMaxSendMessageSize(-1);
	auto ch = grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args);
	if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
		die("channel to " + target + " did not connect");
	grpc::GenericStub stub(ch);
	grpc::CompletionQueue cq;

	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < 2; s++) {
			std::vector<char> buf(sizes[s]);
			std::vector<double> us;

			for (size_t i = 0; i < buf.size(); i++)
				buf[i] = static_cast<char>('a' + (i + static_cast<size_t>(r)) % 26);
			for (int i = 0; i < iters + iters / 10; i++) {
				auto t0 = std::chrono::steady_clock::now();

				if (!echo(stub, cq, buf))
					die("echo failed");
				if (i >= iters / 10)
					us.push_back(std::chrono::duration<double, std::micro>(
							     std::chrono::steady_clock::now() - t0)
							     .count());
			}
			p50[s].push_back(pct(us, 0.5));
			p99[s].push_back(pct(us, 0.99));
		}
		fprintf(stderr, "gRPC round %d/%d done\n", r + 1, rounds);
	}
	for (int s = 0; s < 2; s++)
		printf("grpc-tls %zu %.1f %.1f\n", sizes[s], median(p50[s]), median(p99[s]));
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	int iters = 2000, rounds = 5, opt;

	if (argc < 5 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: axon_grpc server|client ADDR PORT CERT_PEM [-n N] [-r R]\n");
		return 2;
	}
	std::string target = std::string(argv[2]) + ":" + argv[3];
	optind = 5;
	while ((opt = getopt(argc, argv, "n:r:")) != -1)
		if (opt == 'n')
			iters = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
	if (gnutls_global_init())
		die("gnutls_global_init");
	if (!strcmp(argv[1], "server"))
		return server(target, argv[4]);
	return client(target, argv[4], std::max(iters, 10), std::min(std::max(rounds, 1), 16));
}
