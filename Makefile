# The two set-up commands are `make demo` and `make test`; everything else is a convenience.
# Each target first checks the Debian packages (scripts/deps.sh installs them as root).
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CTEST_ARGS ?=

.PHONY: all deps build test asan demo bench fuzz gallery clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Every test, then every fast test again under AddressSanitizer and UndefinedBehaviorSanitizer.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)
	@$(MAKE) --no-print-directory asan

# Tests labelled "slow" (long training runs) are left out under the sanitizers: they would take
# ten times as long there and exercise the same code as the fast tests.
asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAMEM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE slow $(CTEST_ARGS)

demo: build
	@bash scripts/demo.sh $(BUILD)/samem demo-out

bench: build
	@bash scripts/bench.sh $(BUILD)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAMEM_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-60}

gallery: build
	@bash scripts/gallery.sh $(BUILD)/samem gallery-out

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
