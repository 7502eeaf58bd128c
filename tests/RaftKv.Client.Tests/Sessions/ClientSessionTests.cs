using RaftKv.Client.Sessions;

namespace RaftKv.Client.Tests.Sessions;

public sealed class ClientSessionTests
{
    [Fact]
    public void Writes_are_numbered_from_one_and_the_ack_is_the_lowest_still_waiting()
    {
        var session = new ClientSession(9, 0);
        var (first, second, third) = (new SessionWrite(), new SessionWrite(), new SessionWrite());
        first.Bind(session);
        second.Bind(session);
        third.Bind(session);

        Assert.Equal((1L, 1L), first.Stamp());
        Assert.Equal((2L, 1L), second.Stamp());

        first.Release();
        Assert.Equal((3L, 2L), third.Stamp());

        second.Release();
        third.Release();
        Assert.Equal(0, session.Awaiting);
    }

    [Fact]
    public void A_retry_keeps_its_sequence_number_and_holds_the_ack_back()
    {
        var session = new ClientSession(1, 0);
        var retried = new SessionWrite();
        retried.Bind(session);
        var (sequence, _) = retried.Stamp();

        var later = new SessionWrite();
        later.Bind(session);
        later.Stamp();
        later.Release();

        Assert.Equal((sequence, sequence), retried.Stamp());
    }

    [Fact]
    public void Binding_to_a_new_session_gives_up_the_number_in_the_old_one()
    {
        var expired = new ClientSession(1, 0);
        var fresh = new ClientSession(2, 0);
        var write = new SessionWrite();
        write.Bind(expired);
        write.Stamp();
        write.Stamp();

        write.Bind(fresh);

        Assert.Equal(0, expired.Awaiting);
        Assert.Equal((1L, 1L), write.Stamp());
        Assert.Same(fresh, write.Session);
    }

    [Fact]
    public void A_write_that_may_have_been_applied_stays_so()
    {
        var write = new SessionWrite();

        write.MarkMayHaveBeenApplied();
        write.Bind(new ClientSession(1, 0));

        Assert.True(write.MayHaveBeenApplied);
    }

    [Fact]
    public void Activity_only_moves_forward()
    {
        var session = new ClientSession(1, 100);

        session.Touch(50);
        Assert.Equal(100, session.LastActivity);
        session.Touch(150);
        Assert.Equal(150, session.LastActivity);
    }
}
