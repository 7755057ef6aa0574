#include "shoal/placement/partition.h"

#include "shoal/base/assert.h"
#include "shoal/base/hash.h"

namespace shoal::placement {

uint64_t key_hash(ByteView key) {
    return hash64(key, kKeyHashSeed);
}

uint32_t partition_of_hash(uint64_t hash, uint32_t partition_count) {
    SHOAL_ASSERT(partition_count > 0);
    SHOAL_ASSERT(partition_count <= kPartitionCountMax);
    return static_cast<uint32_t>(hash % partition_count);
}

}  // namespace shoal::placement
