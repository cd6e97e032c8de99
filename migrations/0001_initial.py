from tortoise import migrations
from tortoise.migrations import operations as ops
from crm_graphql.models.auth import TokenKind, TokenScope
from crm_graphql.models.users import UserMode
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    # Ordered by hand: in tortoise-orm 1.1 a CreateModel whose foreign key targets a model
    # not created yet (or itself) silently drops its FK columns, so cycles go in AddField.
    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField(null=True)),
                ('username', fields.CharField(default='', max_length=60)),
                ('action', fields.CharField(max_length=20)),
                ('object_type', fields.CharField(max_length=60)),
                ('object_id', fields.CharField(default='', max_length=60)),
                ('changes', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('request_id', fields.CharField(default='', max_length=40)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'crm', 'indexes': [Index(fields=['object_type', 'object_id']), Index(fields=['created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CompanyRole',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'company_roles', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Group',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'groups', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(max_length=60)),
                ('address', fields.CharField(max_length=64)),
                ('succeeded', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'login_attempts', 'app': 'crm', 'indexes': [Index(fields=['username', 'created_at']), Index(fields=['address', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One row per login call. Failed rows inside the window count against the limit.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Profile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('description', fields.CharField(default='', max_length=255)),
                ('cr', fields.BooleanField(default=False)),
                ('cw', fields.BooleanField(default=False)),
                ('cm', fields.BooleanField(default=False)),
                ('ir', fields.BooleanField(default=False)),
                ('iw', fields.BooleanField(default=False)),
                ('im', fields.BooleanField(default=False)),
                ('lr', fields.BooleanField(default=False)),
                ('lw', fields.BooleanField(default=False)),
                ('lm', fields.BooleanField(default=False)),
                ('um', fields.BooleanField(default=False)),
                ('fm', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'profiles', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=60)),
                ('real_name', fields.CharField(default='', max_length=200)),
                ('email', fields.CharField(default='', max_length=254)),
                ('phone', fields.CharField(default='', max_length=60)),
                ('employee_number', fields.CharField(default='', max_length=60)),
                ('location', fields.CharField(default='', max_length=200)),
                ('language', fields.CharField(default='en', max_length=10)),
                ('mode', fields.CharEnumField(default=UserMode.GROUPED, description='GROUPED: GROUPED\nSTANDALONE: STANDALONE', enum_type=UserMode, max_length=12)),
                ('is_superadmin', fields.BooleanField(default=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('login_enabled', fields.BooleanField(default=True)),
                ('password_hash', fields.CharField(default='', max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'users', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Company',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('address', fields.TextField(default='', unique=False)),
                ('fiscal_id', fields.CharField(null=True, unique=True, max_length=60)),
                ('country', fields.CharField(default='', max_length=100)),
                ('website', fields.CharField(default='', max_length=255)),
                ('comments', fields.TextField(default='', unique=False)),
                ('role', fields.ForeignKeyField('crm.CompanyRole', source_field='role_id', null=True, db_constraint=True, to_field='id', related_name='companies', on_delete=OnDelete.SET_NULL)),
                ('manager', fields.ForeignKeyField('crm.User', source_field='manager_id', null=True, db_constraint=True, to_field='id', related_name='managed_companies', on_delete=OnDelete.SET_NULL)),
                ('last_update', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('payment_conditions', fields.IntField(default=30)),
                ('office_phone', fields.CharField(default='', max_length=60)),
                ('general_email', fields.CharField(default='', max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'companies', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Company',
            name='parent',
            field=fields.ForeignKeyField('crm.Company', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='User',
            name='company',
            field=fields.ForeignKeyField('crm.Company', source_field='company_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL),
        ),
        ops.CreateModel(
            name='Assignment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.CASCADE)),
                ('profile', fields.ForeignKeyField('crm.Profile', source_field='profile_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.CASCADE)),
                ('group', fields.ForeignKeyField('crm.Group', source_field='group_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'assignments', 'app': 'crm', 'pk_attr': 'id', 'table_description': 'A user holds a profile in a group. A bit counts when any assignment grants it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuthToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('crm.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='SESSION: SESSION\nAPI: API', enum_type=TokenKind, max_length=10)),
                ('name', fields.CharField(default='', max_length=100)),
                ('scope', fields.CharEnumField(default=TokenScope.FULL, description='FULL: FULL\nLEADS_CREATE: LEADS_CREATE', enum_type=TokenScope, max_length=20)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(default='', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'auth_tokens', 'app': 'crm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
