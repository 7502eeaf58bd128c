namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// Redis's <c>math.random</c> generator (<c>rand.c</c>: the 48-bit linear congruential <c>lrand48</c>), so scripts
/// draw the numbers they draw on Redis. The engine reseeds it with 0 before every script, as Redis did up to 6.2:
/// every replica draws the same sequence, and a script wanting another one calls <c>math.randomseed</c>.
/// </summary>
internal struct Rand48
{
    private const ulong Multiplier = 0x5DEECE66D;
    private const ulong Increment = 0xB;
    private const ulong Mask = (1UL << 48) - 1;

    private ulong state;

    /// <summary>Redis's <c>redisSrand48</c>: the seed's 32 bits above the constant 0x330E.</summary>
    public void Seed(int seed) => state = ((ulong)(uint)seed << 16) | 0x330E;

    /// <summary>The next value in [0, 2^31).</summary>
    public int Next()
    {
        state = ((Multiplier * state) + Increment) & Mask;
        return (int)(state >> 17);
    }
}
