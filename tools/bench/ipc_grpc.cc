// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * gRPC C++ (Debian's libgrpc++-dev, 1.51): unary calls over a Unix socket
 * (unix:<path>), insecure credentials.
 *
 * The method /cell.bench.Echo/Call carries raw bytes (grpc::ByteBuffer)
 * through gRPC's generic API on both sides: a CallbackGenericService
 * whose reactor writes back the request it read (grpc_echo.h, shared with
 * axon_grpc.cc), and a GenericStub.  No protobuf: Debian's libgrpc++-dev
 * does not bring libprotobuf-dev, and
 * raw bytes spare gRPC the serialization a .proto message would cost, so
 * these figures are gRPC's transport at its cheapest.
 *
 * One call: PrepareUnaryCall on a CompletionQueue, StartCall, Finish,
 * Next (the request built from the client's buffer, the response copied
 * out of the ByteBuffer).  Calls/s: ipc_depth() such calls in flight on
 * the one channel, then each completion taken.
 */
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "grpc_echo.h"

extern "C" {
#include "ipc.h"
}

namespace
{

struct gctx {
	size_t size;
	char dir[32];
	std::string target; /* unix:<dir>/grpc.sock */
	std::string sock;
	/* client */
	std::shared_ptr<grpc::Channel> channel;
	std::unique_ptr<grpc::GenericStub> stub;
	std::unique_ptr<grpc::CompletionQueue> cq;
	std::vector<unsigned char> buf;
	uint64_t seq;
};

void *gprepare(size_t size)
{
	gctx *c = new gctx();

	c->size = size;
	c->seq = 0;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cell-grpc-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("bench: mkdtemp");
		delete c;
		return nullptr;
	}
	c->sock = std::string(c->dir) + "/grpc.sock";
	c->target = "unix:" + c->sock;
	return c;
}

int gserve(void *ctx, int ready_fd)
{
	gctx *c = static_cast<gctx *>(ctx);
	grpc_echo::Service svc;
	grpc::ServerBuilder b;

	b.AddListeningPort(c->target, grpc::InsecureServerCredentials());
	b.RegisterCallbackGenericService(&svc);
	b.SetMaxReceiveMessageSize(-1);
	b.SetMaxSendMessageSize(-1);
	std::unique_ptr<grpc::Server> server = b.BuildAndStart();
	if (!server) {
		fprintf(stderr, "bench: gRPC server on %s did not start\n", c->target.c_str());
		return -1;
	}
	if (ipc_ready(ready_fd))
		return -1;
	while (!ipc_stopping)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	/*
	 * The measurements are over.  Under load, Shutdown() or the server's
	 * destructors sometimes never return here (1 run in 10 or so at
	 * 1 MiB); the process is ended regardless after 3 s, and without
	 * destructors once Shutdown() returned.
	 */
	std::thread([] {
		std::this_thread::sleep_for(std::chrono::seconds(3));
		fprintf(stderr, "bench: gRPC server: Shutdown() hung for 3 s, exiting\n");
		fflush(nullptr);
		_exit(0);
	}).detach();
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
	fflush(nullptr);
	_exit(0);
}

int gconnect(void *ctx)
{
	gctx *c = static_cast<gctx *>(ctx);
	grpc::ChannelArguments args;

	args.SetMaxReceiveMessageSize(-1);
	args.SetMaxSendMessageSize(-1);
	c->buf.assign(c->size, 0x5a);
	c->channel = grpc::CreateCustomChannel(c->target, grpc::InsecureChannelCredentials(), args);
	if (!c->channel->WaitForConnected(std::chrono::system_clock::now() +
					  std::chrono::seconds(10))) {
		fprintf(stderr, "bench: gRPC channel to %s did not connect\n", c->target.c_str());
		return -1;
	}
	c->stub.reset(new grpc::GenericStub(c->channel));
	c->cq.reset(new grpc::CompletionQueue());
	return 0;
}

/* One call in flight. */
struct pending {
	grpc::ClientContext ctx;
	grpc::ByteBuffer resp;
	grpc::Status status;
	std::unique_ptr<grpc::GenericClientAsyncResponseReader> rpc;
};

void start(gctx *c, pending *p, uintptr_t tag)
{
	ipc_fill(c->buf.data(), c->size, ++c->seq);
	grpc::Slice slice(c->buf.data(), c->size);
	grpc::ByteBuffer req(&slice, 1);

	p->rpc = c->stub->PrepareUnaryCall(&p->ctx, grpc_echo::kMethod, req, c->cq.get());
	p->rpc->StartCall();
	p->rpc->Finish(&p->resp, &p->status, reinterpret_cast<void *>(tag));
}

int finish(gctx *c, pending *p, uint64_t seq)
{
	std::vector<grpc::Slice> slices;
	size_t len = 0;

	if (!p->status.ok()) {
		fprintf(stderr, "bench: gRPC call: %d %s\n", (int)p->status.error_code(),
			p->status.error_message().c_str());
		return -1;
	}
	if (!p->resp.Dump(&slices).ok()) {
		fprintf(stderr, "bench: gRPC: response not readable\n");
		return -1;
	}
	for (const grpc::Slice &s : slices) {
		if (len + s.size() > c->size) {
			len += s.size();
			break;
		}
		memcpy(c->buf.data() + len, s.begin(), s.size());
		len += s.size();
	}
	return ipc_check(c->buf.data(), len, c->size, seq, "grpc");
}

int take(gctx *c, uintptr_t *tag)
{
	void *t;
	bool ok;

	if (!c->cq->Next(&t, &ok) || !ok) {
		fprintf(stderr, "bench: gRPC completion queue failed\n");
		return -1;
	}
	*tag = reinterpret_cast<uintptr_t>(t);
	return 0;
}

int gcall(void *ctx)
{
	gctx *c = static_cast<gctx *>(ctx);
	pending p;
	uintptr_t tag;

	start(c, &p, 1);
	if (take(c, &tag))
		return -1;
	return finish(c, &p, c->seq);
}

int gburst(void *ctx, unsigned int n)
{
	gctx *c = static_cast<gctx *>(ctx);
	unsigned int depth = ipc_depth(c->size);

	for (unsigned int i = 0; i < n; i += depth) {
		std::vector<std::unique_ptr<pending>> calls;
		uint64_t first = c->seq + 1;

		for (unsigned int k = 0; k < depth; k++) {
			calls.emplace_back(new pending());
			start(c, calls.back().get(), k);
		}
		for (unsigned int k = 0; k < depth; k++) {
			uintptr_t tag;

			if (take(c, &tag) || tag >= depth ||
			    finish(c, calls[tag].get(), first + tag))
				return -1;
		}
	}
	return 0;
}

const char *gpath(void *ctx)
{
	(void)ctx;
	return "uds";
}

void gdisconnect(void *ctx)
{
	gctx *c = static_cast<gctx *>(ctx);
	void *t;
	bool ok;

	c->stub.reset();
	c->channel.reset();
	c->cq->Shutdown();
	while (c->cq->Next(&t, &ok))
		;
	c->cq.reset();
}

void gdestroy(void *ctx)
{
	gctx *c = static_cast<gctx *>(ctx);

	unlink(c->sock.c_str());
	if (rmdir(c->dir))
		fprintf(stderr, "bench: rmdir %s: %s\n", c->dir, strerror(errno));
	delete c;
}

const struct ipc_case grpc_cases[] = {
	{
		"grpc-uds",
		"gRPC C++ unary, unix socket",
		"peer",
		0,
		nullptr,
		gprepare,
		gserve,
		nullptr,
		gconnect,
		gcall,
		gburst,
		gpath,
		gdisconnect,
		gdestroy,
	},
};

} // namespace

extern "C" const struct ipc_case_list ipc_grpc_cases = {
	"gRPC", grpc_cases, 1, nullptr, nullptr,
};
