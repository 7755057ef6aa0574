#include "shoal/placement/partition.h"

#include "shoal/base/assert.h"

namespace shoal::placement {

uint32_t partition_of_hash(uint64_t hash, uint32_t partition_count) {
    SHOAL_ASSERT(partition_count > 0);
    SHOAL_ASSERT(partition_count <= kPartitionCountMax);
    return static_cast<uint32_t>(hash % partition_count);
}

}  // namespace shoal::placement
