# The two set-up commands of the README: `make demo` and `make test`.
BUILD ?= build
BUILD_ASAN ?= build-asan
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure --timeout 300 -j2

.PHONY: all deps build demo test test-sanitize bench format clean help

all: build

help:
	@echo "make demo           build, then a two-process transfer with verification and a summary"
	@echo "make test           build and run every test (C++ GoogleTest suites via ctest)"
	@echo "make test-sanitize  the same tests built with AddressSanitizer + UBSan"
	@echo "make bench          transport benchmark side by side with raw TCP (scripts/bench_transport.sh)"
	@echo "make format         clang-format every C++ source"

deps:
	@bash scripts/setup-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

demo: build
	UCCL_SOCKET_IFNAME=$${UCCL_SOCKET_IFNAME:-lo} $(BUILD)/bench/transport_bw --demo

test: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

test-sanitize: deps
	@# Host-only (TCPXP_CUDA=OFF): also proves the CUDA-less build; the CUDA runtime's own
	@# process-lifetime allocations would otherwise read as leaks.
	@cmake -S . -B $(BUILD_ASAN) -G Ninja -DTCPXP_SANITIZE=ON -DTCPXP_CUDA=OFF -DTCPXP_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_FLAGS)

bench: build
	bash scripts/bench_transport.sh

format:
	@find src tests bench -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
